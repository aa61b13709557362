"""Each expert rule fires on drawn images or metadata made to trigger it, and only then."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from jobs.analyse.expert_rules import load_rules

from tests_analyse_helpers import PALETTE, RULES, drawn, features, product


def fired(f: dict) -> set[str]:
    return {r.id for r in RULES.fired(f)}


def test_baseline_fires_only_the_fallback():
    assert fired(features()) == {"no_rule"}


def test_dominant_colour_is_named_on_real_pixels():
    assert PALETTE.dominant(drawn("blue"))[0] == "blue"
    assert PALETTE.dominant(drawn("gold"))[0] == "gold"


def test_colour_mismatch_on_drawn_photos():
    f = features(products=[drawn("blue", seed=i) for i in range(6)])
    assert f["query_colour"] == "red" and f["colour_agreement"] == 0
    assert "colour_mismatch" in fired(f)
    assert RULES.rules[1].info_for(f) == "red"


@pytest.mark.parametrize("make", [
    lambda: np.asarray(Image.fromarray(drawn("red")).filter(ImageFilter.GaussianBlur(4))),
    lambda: (drawn("red") * 0.08).astype(np.uint8),
    lambda: np.full((64, 64, 3), 250, np.uint8),
])
def test_unclear_photo_stops_other_rules(make):
    f = features(query=make(), products=[drawn("blue", seed=i) for i in range(6)])
    assert fired(f) == {"unclear_photo"}


def test_low_price_band_against_the_usual_price():
    items = [product(i, price=40 + i) for i in range(8)]
    assert "low_price_band" in fired(features(items=items, references={"t-shirt": 100.0}))
    assert "low_price_band" not in fired(features(items=items, references={"t-shirt": 35.0}))
    assert "low_price_band" not in fired(features(items=items))  # no usual price known: no judgement


def test_mixed_categories_on_category_entropy():
    cats = ["apparel", "home", "toys", "food", "beauty", "medicine"]
    assert "mixed_categories" in fired(features(items=[product(i, main_category=c) for i, c in enumerate(cats)]))


def test_brand_disagreement_needs_a_printed_brand_the_results_lack():
    from jobs.analyse.features import brand_match

    items = [product(i, brand=f"B{i}") for i in range(6)]
    assert "brand_disagreement" not in fired(features(items=items))  # nothing printed on the photo
    printed = {**features(items=items), "photo_brand": "B9", "photo_brand_match": brand_match(items, "B9")}
    assert "brand_disagreement" in fired(printed)
    assert RULES.rules[[r.id for r in RULES.rules].index("brand_disagreement")].info_for(printed) == "B9"
    same = [product(i, brand="B9") for i in range(6)]
    assert "brand_disagreement" not in fired({**features(items=same), "photo_brand": "B9",
                                              "photo_brand_match": brand_match(same, "B9")})


def test_spec_mismatch_for_parts():
    items = [product(i, main_category="electronics parts", subcategory="screw", spec_model=f"M{i}")
             for i in range(6)]
    assert "spec_mismatch" in fired(features(items=items, category="electronics parts"))


def test_medicine_information():
    items = [product(i, main_category="medicine", subcategory="vitamins") for i in range(6)]
    assert "medicine_information" in fired(features(items=items, category="medicine"))


def test_jewellery_material_price():
    items = [product(i, price=50, main_category="jewellery", subcategory="ring") for i in range(6)]
    got = fired(features(items=items, category="jewellery", references={"ring": 600.0}))
    assert "jewellery_material_price" in got


def test_style_mismatch_when_the_results_lack_the_photos_pattern():
    from jobs.generate.images import draw_item

    striped = np.asarray(draw_item(96, "shirt", "blue", np.random.default_rng(3), pattern="striped",
                                   background=(200, 215, 235)))
    plain = [product(i, pattern=p) for i, p in enumerate(["plain", "floral", "checked", "plain", "logo print", None])]
    f = features(query=striped, items=plain)
    assert f["photo_pattern"] == "striped" and f["photo_pattern_match"] == 0
    assert "style_mismatch" in fired(f)
    assert RULES.rules[[r.id for r in RULES.rules].index("style_mismatch")].info_for(f).startswith("striped pattern")
    some_striped = [product(i, pattern="striped" if i < 2 else "plain") for i in range(6)]
    assert "style_mismatch" not in fired(features(query=striped, items=some_striped))
    assert "style_mismatch" not in fired(features(query=striped, items=plain, category="toys"))


def test_weak_similarity():
    assert "weak_similarity" in fired(features(items=[product(i, sim=0.6) for i in range(6)]))


def test_rules_file_errors_are_one_line(tmp_path):
    from core.errors import InputError

    bad = tmp_path / "rules.yaml"
    bad.write_text("name: x\nversion: 1\nunknown: 2\n")
    with pytest.raises(InputError, match="rules.yaml"):
        load_rules(bad)
    with pytest.raises(InputError, match="not found"):
        load_rules(tmp_path / "missing.yaml")


def test_prompt_text_lists_every_rule():
    text = RULES.prompt_text()
    assert all(f"[{r.id}]" in text for r in RULES.rules)


def test_the_pattern_is_read_from_shopper_photos():
    """Every pattern the generator draws is read back from its photos (noise, tint, light,
    re-uploads) on most of them; a wrong reading would make the style rule misfire."""
    from collections import Counter

    from jobs.analyse.features import photo_pattern
    from jobs.generate.images import PATTERNS, draw_item, near_duplicate
    from jobs.generate.photos import noise_bank, shopper_photo

    rng, bank = np.random.default_rng(1), noise_bank(0)
    right, seen = Counter(), Counter()
    for i in range(250):
        pattern = PATTERNS[i % len(PATTERNS)]
        shape = ("shirt", "dress", "trousers", "box", "cylinder")[(i // 5) % 5]
        colour = ("black", "red", "blue", "green", "pink", "grey", "beige", "brown")[(i // 25) % 8]
        img = shopper_photo(draw_item(96, shape, colour, rng, "Zara" if i % 3 == 0 else None, pattern=pattern),
                            rng, bank)
        if i % 4 == 0:
            img = near_duplicate(img, rng)
        seen[pattern] += 1
        right[pattern] += photo_pattern(np.asarray(img)) == pattern
    assert {p: right[p] / seen[p] >= 0.85 for p in PATTERNS} == {p: True for p in PATTERNS}, right
