"""Relevance against the generator's ground truth: would this product have satisfied the shopper?

The paper's assessors asked whether a product matching the shopper's true intent is
in the top-1 / top-4. Here the intent is what the generator planted: the intended
category always, plus the attribute the query's scenario is about (a wrong colour
wants the intended colour, a wrong price band the top quarter of the kind's prices,
a brand not matched the intended brand, a specification the intended spec model, a
style its pattern, jewellery its material and price band). A query without a
scenario (a no-click for no planted reason), an ambiguous category, medicine
information or an unclear photo wants the category only.

Ground truth is read here and only here: the executors and the plans never see it.
"""

from __future__ import annotations

import pandas as pd

# scenario -> {catalogue column: ground-truth field}; the category is always required.
SCENARIO_INTENT: dict[str, dict[str, str]] = {
    "wrong_colour": {"colour": "intended_colour"},
    "wrong_price_band": {"price_band": "intended_price_band"},
    "brand_not_matched": {"brand": "intended_brand"},
    "spec_mismatch": {"spec_model": "expected_info"},
    "style_mismatch": {"pattern": "expected_info"},
    "jewellery_material_price": {"material": "expected_info", "price_band": "intended_price_band"},
}
PLANTED = tuple(SCENARIO_INTENT)  # the scenarios a tool can fix by changing the results


def intents(truth: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Per query id: the catalogue values a relevant product must have (lower case)."""
    out = {}
    for row in truth.to_dict("records"):
        want = {"main_category": str(row["intended_category"]).lower()}
        for column, source in SCENARIO_INTENT.get(row.get("scenario") or "", {}).items():
            value = row.get(source)
            if isinstance(value, str) and value:
                want[column] = value.lower()
        out[row["query_id"]] = want
    return out


def relevance(ids: list[str], want: dict[str, str] | None, catalogue, top: int) -> bool | None:
    """Is some product of ``ids[:top]`` relevant? None without ground truth."""
    if want is None:
        return None
    head = ids[:top]
    columns = {c: catalogue.values(head, c) for c in want}
    return any(all(columns[c][i] == v for c, v in want.items()) for i in range(len(head)))
