"""The planted discrepancy scenarios: what went wrong in a search, and what should have happened.

Each scenario says which categories it can occur in, how the retrieval results are
skewed (the ``retrieval`` rule read by :mod:`jobs.generate.logs`), and the action
and info an ideal analyst would propose. ``ground_truth/`` records the scenario of
every query, so evaluations can score the pipeline against it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    categories: tuple[str, ...] | None  # None: any category
    retrieval: str  # how results are skewed: differ:<field>, low_price, mixed, noisy, same
    action: str
    info_field: str  # which truth field is the Info (colour, brand, ...), or a fixed text


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("wrong_colour", "results match the item but not its colour", None,
             "differ:colour", "refine search condition", "colour"),
    Scenario("wrong_price_band", "results cluster in a low price band while the item is high-end",
             ("apparel", "home", "beauty", "toys", "food"), "low_price",
             "segment price range", "price_band"),
    Scenario("brand_not_matched", "a brand is printed on the item but results show other brands",
             ("apparel", "beauty", "food", "toys", "medicine"), "differ:brand",
             "recognise brand text", "brand"),
    Scenario("ambiguous_category", "results spread over several unrelated categories", None,
             "mixed", "clarify product category", "category"),
    Scenario("spec_mismatch", "standard part: results look alike but specifications differ",
             ("electronics parts",), "differ:spec_model", "match specification", "spec_model"),
    Scenario("medicine_information", "medicine: the shopper needs usage and dosage information",
             ("medicine",), "same", "show product information", "dosage and usage"),
    Scenario("jewellery_material_price", "jewellery: material and price diverge from the item",
             ("jewellery",), "low_price", "refine material condition", "material"),
    Scenario("style_mismatch", "results have the item's shape but another pattern or style",
             ("apparel", "home"), "differ:pattern", "refine style condition", "pattern"),
    Scenario("unclear_photo", "the photo is too blurred or dark to recognise the item", None,
             "noisy", "ask for a clearer photo", "image quality"),
)

SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}
SCENARIO_NAMES = ("none",) + tuple(s.name for s in SCENARIOS)  # codes in the generator's arrays


def scenarios_for(category: str) -> list[Scenario]:
    """Scenarios that can occur for an item of ``category`` (unclear_photo comes from defects)."""
    return [s for s in SCENARIOS
            if s.name != "unclear_photo" and (s.categories is None or category in s.categories)]
