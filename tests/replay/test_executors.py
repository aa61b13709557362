"""Each executor on hand-made queries: the right product moves into the top-4, a condition
nothing meets changes nothing and says so, and the executor is chosen from the tool's text."""

import pandas as pd
import pyarrow as pa
import pytest

from jobs.replay.catalogue import Catalogue
from jobs.replay.executors import TOP, Query, ToolCard, choose_executor, run_executor
from jobs.replay.judge import intents, relevance
from jobs.replay.replay import Step, replay


def product(pid, sub="mug", main="home", colour="white", brand="IKEA", price=50.0, material="ceramic",
            pattern=None, spec=None, sales=10):
    return {"product_id": pid, "main_category": main, "subcategory": sub, "colour": colour, "brand": brand,
            "price": price, "material": material, "pattern": pattern, "spec_model": spec, "monthly_sales": sales}


@pytest.fixture(scope="module")
def catalogue():
    rows = [product(f"r{i}", price=20.0 + i) for i in range(6)]  # the results: white IKEA mugs, cheap
    rows += [product("lamp1", sub="lamp", colour="black", price=80.0),  # another subcategory
             product("black_mug", colour="black", price=21.5, sales=5),
             product("muji_mug", brand="MUJI", price=20.5, sales=3),
             product("dear_mug", price=400.0, sales=1),  # the top price quarter of mugs
             product("gold_ring", sub="ring", main="jewellery", colour="gold", brand="Lukfook",
                     material="925 silver", price=300.0),
             product("gold18k_ring", sub="ring", main="jewellery", colour="white", brand="Lukfook",
                     material="18k gold", price=900.0, sales=0),
             product("striped_mug", pattern="striped", price=22.5, sales=2),
             product("m3", sub="screw", main="electronics parts", colour="silver", brand="Chint",
                     material="brass", spec="M3x8"),
             product("m4", sub="screw", main="electronics parts", colour="silver", brand="Chint",
                     material="brass", spec="M4x10", sales=1)]
    rows += [product(f"d{i}", sub="dress", main="apparel", colour="red", brand="Zara", price=100 + i)
             for i in range(4)]
    return Catalogue(pd.DataFrame(rows))


def mugs(catalogue, ids=None):
    ids = ids or [f"r{i}" for i in range(6)]
    sub, main = catalogue.subcategory_of(ids)
    return Query(list(ids), sub, main)


@pytest.mark.parametrize("name, info, expected", [
    ("colour", "black", "black_mug"),
    ("brand", "OCR brand text 'MUJI'", "muji_mug"),
    ("style", "striped", "striped_mug"),
])
def test_a_condition_moves_the_matching_product_into_the_top4(catalogue, name, info, expected):
    query = mugs(catalogue)
    assert expected not in query.products[:TOP]
    out = run_executor(name, info, query, catalogue)
    assert out.changed and not out.no_match and out.executor == name
    assert out.products[0] == expected  # the only match, supplemented from the catalogue
    assert out.products[1:TOP] == query.products[:TOP - 1]  # the rest keep their order
    assert "lamp1" not in out.products  # supplements come from the query's subcategory


def test_a_price_band_puts_the_top_quarter_of_the_kind_first(catalogue):
    # ten mugs: r0..r5 at 20-25 CNY, three others at 20.5-22.5 and one at 400: the top quarter is
    # r4, r5 (already retrieved, kept in their order) and the dear mug (from the catalogue)
    query = mugs(catalogue)
    out = run_executor("price", "higher price band than 23 CNY", query, catalogue)
    assert out.products[:4] == ["r4", "r5", "dear_mug", "r0"] and out.changed
    assert "price_band = high" in out.note


def test_a_condition_nothing_meets_changes_nothing_and_says_so(catalogue):
    query = mugs(catalogue)
    out = run_executor("colour", "purple", query, catalogue)
    assert out.products == query.products and not out.changed
    assert "colour" in out.note  # purple is not a colour of this catalogue: named as missing
    out = run_executor("colour", "gold", query, catalogue)  # a known colour, but no gold mug anywhere
    assert out.products == query.products and out.no_match and not out.changed
    assert out.note == "no product with colour = gold in the results or the catalogue: unchanged"
    out = run_executor("price", "segment the price range", query, catalogue)
    assert out.products == query.products and "names no price band" in out.note


def test_only_the_results_value_named_diversifies(catalogue):
    query = mugs(catalogue)
    out = run_executor("brand", "brand text on the photo (results: IKEA)", query, catalogue)
    assert out.products[0] == "muji_mug" and "other than ikea" in out.note
    assert out.products[1] == "r0"  # IKEA results follow, in their order


def test_the_longest_value_wins_and_results_stay_in_their_category(catalogue):
    rings = Query(["gold_ring", "r0", "r1"], "ring", "jewellery")
    out = run_executor("material", "material 18k gold", rings, catalogue)
    assert out.products[0] == "gold18k_ring"  # "18k gold", not "gold"
    spec = Query(["m3"], "screw", "electronics parts")
    out = run_executor("spec", "spec_model (results: M3x8)", spec, catalogue)
    assert out.products[:2] == ["m4", "m3"]


def test_category_restriction_keeps_and_fills_the_named_category(catalogue):
    query = Query(["lamp1", "d0", "r0", "gold_ring"], "mug", "home")
    out = run_executor("category", "apparel", query, catalogue)
    assert out.products[:4] == ["d0", "d1", "d2", "d3"] and "restricted to apparel" in out.note
    out = run_executor("category", "spaceships", query, catalogue)
    assert out.products == query.products and not out.changed


@pytest.mark.parametrize("name, flag", [("clarify", "asks_shopper"), ("photo", "asks_shopper"),
                                        ("information", "shows_information")])
def test_questions_photos_and_information_only_mark_the_query(catalogue, name, flag):
    query = mugs(catalogue)
    out = run_executor(name, "image quality: blurred", query, catalogue)
    assert out.products == query.products and not out.changed and getattr(out, flag)
    assert run_executor(None, "x", query, catalogue).note == "no executor matches this tool"


@pytest.mark.parametrize("title, info, expected", [
    ("add the colour condition in the search", "green", "colour"),
    ("recognise brand name in the image", "brand text on the photo (results: Li-Ning)", "brand"),
    ("segment results by price range", "higher price band than 52 CNY", "price"),
    ("clarify target category with the shopper", "toys", "clarify"),
    ("narrow the results to one category", "toys", "category"),
    ("show dosage and usage guidance", "dosage and usage", "information"),
    ("match specification model", "spec_model (results: M3x8)", "spec"),
    ("filter jewellery results by material", "material (results mostly alloy)", "material"),
    ("refine style constraint by pattern", "pattern (results: striped)", "style"),
    ("ask the shopper to reupload the photo", "image quality: blurred", "photo"),
    ("re-rank using visual similarity", "top similarity 0.7", "rerank"),
    ("review result ranking", "home", None),
    # a generic tool: the Info decides (a colour of the catalogue, a price band)
    ("refine search conditions", "black", "colour"),
    ("refine search conditions", "higher price band than 52 CNY", "price"),
])
def test_the_executor_is_chosen_from_the_tools_text_and_info(catalogue, title, info, expected):
    card = ToolCard(title, "some group", title, (title,))
    assert choose_executor(card, info, catalogue.vocabulary) == expected


def test_the_choice_never_reads_the_index(catalogue):
    """Two versions of one tool (new index, renamed, new examples) get the same executor."""
    v1 = Step("t-1", 3, ToolCard("add a colour filter", "colour / refine", "add a colour filter",
                                 ("add a colour filter",)), "black")
    v2 = Step("t-1", 41, ToolCard("colour condition", "search condition refinement", "colour condition",
                                  ("use the photo's colour", "filter by colour")), "black")
    samples = pa.table({"query_id": ["q1"], "main_category": ["home"],
                        "products": [[{"rank": i + 1, "product_id": f"r{i}"} for i in range(6)]]})
    truth = pd.DataFrame([{"query_id": "q1", "intended_category": "home", "scenario": "wrong_colour",
                           "intended_colour": "black", "intended_brand": "IKEA", "intended_price_band": None,
                           "expected_info": "black"}])
    runs = [replay(samples, {"q1": [step]}, catalogue, intents(truth)) for step in (v1, v2)]
    for queries, steps in runs:
        assert steps["executor"].tolist() == ["colour"]
        row = queries.iloc[0]
        assert not row["baseline_top1"] and not row["baseline_top4"] and row["replay_top1"]
    assert runs[0][0]["replay_products"].tolist() == runs[1][0]["replay_products"].tolist()


def test_relevance_needs_the_category_and_the_scenarios_attribute(catalogue):
    truth = pd.DataFrame([
        {"query_id": "a", "intended_category": "home", "scenario": "wrong_colour", "intended_colour": "black",
         "intended_brand": "IKEA", "intended_price_band": None, "expected_info": "black"},
        {"query_id": "b", "intended_category": "home", "scenario": None, "intended_colour": "black",
         "intended_brand": "IKEA", "intended_price_band": None, "expected_info": None},
        {"query_id": "c", "intended_category": "home", "scenario": "wrong_price_band", "intended_colour": "white",
         "intended_brand": "IKEA", "intended_price_band": "high", "expected_info": "high-end"}])
    want = intents(truth)
    assert want["a"] == {"main_category": "home", "colour": "black"}
    assert want["b"] == {"main_category": "home"}  # no scenario: the category only
    assert want["c"] == {"main_category": "home", "price_band": "high"}
    assert relevance(["r0", "black_mug"], want["a"], catalogue, 1) is False
    assert relevance(["r0", "black_mug"], want["a"], catalogue, 4) is True
    assert relevance(["dear_mug"], want["c"], catalogue, 1) is True
    assert relevance(["r3"], want["c"], catalogue, 1) is False  # 7th of 10 mugs by price: mid-band
    assert relevance(["r0"], None, catalogue, 1) is None
