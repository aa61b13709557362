"""A generated week scored against the generator's ground truth (read here only, never by stages).

- Analyst: a planted query (scenario with an action, in ``samples``) counts as phrased when
  one of its signals is a wording of the planted action's rule (the rules file's phrasing
  templates, expanded); brand Info matches when that signal's Info is the printed brand.
- Tools: the week's published ``tools`` (an auxiliary cluster below ``tools.min_aux_size``
  is no tool, and its signals count as signals without a tool); each signal's rule is
  recovered from its wording; a tool's purity is the share of its signals from its
  majority rule; each planted action that reached the analyst should be the majority of
  exactly one tool. A planted scenario whose queries the sample stage filtered (unclear
  photos fail its quality checks) has no signals to make a tool of and is listed apart.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from jobs.analyse.expert_rules import _ALTERNATION, load_rules
from jobs.common.storage import read_table
from clustering.tokens import clean_action

PLANTED_RULE = {"wrong_colour": "colour_mismatch", "wrong_price_band": "low_price_band",
                "brand_not_matched": "brand_disagreement", "ambiguous_category": "mixed_categories",
                "spec_mismatch": "spec_mismatch", "medicine_information": "medicine_information",
                "jewellery_material_price": "jewellery_material_price", "style_mismatch": "style_mismatch",
                "unclear_photo": "unclear_photo"}


def wordings() -> dict[str, str]:
    """Every cleaned wording the rules can produce -> its rule id."""
    out = {}
    for rule in load_rules().rules:
        for template in rule.action:
            groups = [g.split("|") for g in _ALTERNATION.findall(template)]
            for choice in itertools.product(*groups):
                it = iter(choice)
                text = " ".join(_ALTERNATION.sub(lambda _: next(it), template).split())
                out[clean_action(text)] = rule.id
    return out


def evaluate_week(logs: Path, root: Path, week: str) -> dict:
    truth = ds.dataset(Path(logs) / "ground_truth").to_table(columns=["query_id", "scenario", "intended_brand"]
                                                            ).to_pandas()
    samples = read_table(root, "samples", week, columns=["query_id"]).to_pandas()
    signals = read_table(root, "signals", week, columns=["query_id", "order", "action", "info"]).to_pandas()
    assigned = read_table(root, "assignments", week, columns=["query_id", "order"]).to_pandas()
    rule_of = wordings()
    signals["rule"] = [rule_of.get(clean_action(a)) for a in signals["action"]]
    planted = samples.merge(truth, on="query_id")
    planted = planted[planted["scenario"].isin(list(PLANTED_RULE))].copy()
    planted["rule"] = planted["scenario"].map(PLANTED_RULE)
    hit = planted.merge(signals, on=["query_id", "rule"], how="left")
    phrased = hit.groupby("query_id")["action"].apply(lambda a: a.notna().any())
    brand = hit[(hit["rule"] == "brand_disagreement") & hit["action"].notna()]
    per_action = planted.assign(phrased=planted["query_id"].map(phrased)).groupby("scenario")["phrased"].agg(
        ["sum", "size"])
    reached = sorted({PLANTED_RULE[s] for s in planted["scenario"]})
    tools = _tool_figures(root, week, signals, reached)
    return {"planted_queries": int(len(planted)), "phrased_share": float(phrased.mean()),
            "per_action": {s: f"{int(r['sum'])}/{int(r['size'])}" for s, r in per_action.iterrows()},
            "planted_not_reaching_analysis": sorted(set(PLANTED_RULE) - set(planted["scenario"])),
            "brand_info_share": float((brand["info"] == brand["intended_brand"]).mean()) if len(brand) else float("nan"),
            "brand_signals": int(len(brand)), **tools, "signals": int(len(signals)),
            "assigned_signals": int(len(assigned))}


def _tool_figures(root: Path, week: str, signals: pd.DataFrame, reached: list[str]) -> dict:
    from jobs.registry.tools import aux_key, sub_key
    from jobs.tools.groups import labelled_signals

    rows = labelled_signals(read_table(root, "assignments", week), read_table(root, "signals", week), False)
    rows = rows.merge(signals[["query_id", "order", "rule"]], on=["query_id", "order"], how="left")
    published = {aux_key(t["aux_cluster"]) if t["kind"] == "aux" else sub_key(t["main_category"], t["subcategory"])
                 for t in read_table(root, "tools", week).to_pylist()}
    with_tool = rows[rows["group_key"].isin(published)]
    counts = with_tool.groupby(["group_key", "rule"]).size().unstack(fill_value=0)
    majority = counts.idxmax(axis=1)
    purity = float((counts.max(axis=1).sum()) / counts.values.sum()) if len(counts) else float("nan")
    tools_per = {r: int((majority == r).sum()) for r in reached}
    return {"tools": int(len(counts)), "tool_purity": purity,
            "tools_per_planted_action": float(sum(tools_per.values()) / max(len(reached), 1)),
            "planted_actions_lost": [r for r, n in tools_per.items() if n == 0],
            "planted_actions_split": {r: n for r, n in tools_per.items() if n > 1},
            "signals_without_tool_share": float(1 - len(with_tool) / max(len(rows), 1)),
            "tool_names": sorted({k.split("::", 2)[-1] for k in counts.index})[:40]}
