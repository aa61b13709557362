"""Retrieved products, main category and metadata ranking on inline rows."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.sample import context
from jobs.sample.contract import spark_schema
from schemas.tables import Product

from .conftest import product

IMPRESSIONS = "query_id string, rank int, product_id string, similarity float"


def _products(spark, rows):
    schema = spark_schema(Product)
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def test_at_most_12_products_best_rank_first(spark):
    impressions = spark.createDataFrame(
        [("q1", rank, f"p{rank}", 1 - rank / 100) for rank in range(15, 0, -1)], IMPRESSIONS)
    products = _products(spark, [product(f"p{i}") for i in range(1, 16)])
    retrieved = context.retrieved_products(impressions, products, 12)
    (row,) = context.product_lists(retrieved).collect()
    assert [p["rank"] for p in row["products"]] == list(range(1, 13))
    assert row["products"][0]["image_uri"] == "images/products/p1.png"
    assert row["products"][0]["metadata"]["subcategory"] == "dress"


def test_unknown_products_are_skipped_and_the_cap_counts_kept_ones(spark):
    impressions = spark.createDataFrame(
        [("q1", 1, "gone", 0.9), ("q1", 2, "p2", 0.8), ("q1", 3, "p3", 0.7)], IMPRESSIONS)
    products = _products(spark, [product("p2"), product("p3")])
    (row,) = context.product_lists(context.retrieved_products(impressions, products, 1)).collect()
    assert [p["product_id"] for p in row["products"]] == ["p2"]


def test_main_category_is_the_majority_of_the_top_3_ties_to_the_best_rank(spark):
    impressions = spark.createDataFrame([
        ("q1", 1, "shoe", 0.9), ("q1", 2, "ring", 0.8), ("q1", 3, "ring2", 0.7), ("q1", 4, "shoe2", 0.6),
        ("q2", 1, "ring", 0.9), ("q2", 2, "shoe", 0.8), ("q2", 3, "toy", 0.7),
    ], IMPRESSIONS)
    products = _products(spark, [product("shoe", "apparel"), product("shoe2", "apparel"),
                                 product("ring", "jewellery"), product("ring2", "jewellery"),
                                 product("toy", "toys")])
    result = context.main_categories(context.retrieved_products(impressions, products, 12), 3)
    expected = spark.createDataFrame([("q1", 4, "jewellery"), ("q2", 3, "jewellery")],
                                     "query_id string, n_results int, main_category string")
    assertDataFrameEqual(result, expected)


def test_metadata_fields_ranked_by_fill_times_variety_ties_by_name(spark):
    # 4 products. colour: 4 filled, 4 distinct -> 1.0; brand: 4 filled, 2 distinct -> (1+1/3)/2 = 0.667;
    # material: 2 filled, 2 distinct -> 0.5 * 1.0 = 0.5; main_category, subcategory, shop_id: constant -> 0.5;
    # ties at 0.5 by name. No field is left empty except the ones never filled (left out).
    rows = [product("p1", brand="A", colour="red", material="silk"),
            product("p2", brand="A", colour="blue", material="wool"),
            product("p3", brand="B", colour="black"),
            product("p4", brand="A", colour="white")]
    impressions = spark.createDataFrame([("q1", i, f"p{i}", 0.5) for i in range(1, 5)], IMPRESSIONS)
    retrieved = context.retrieved_products(impressions, _products(spark, rows), 12)
    lists = context.product_lists(retrieved)
    (row,) = lists.select(context.field_importance(F.col("products")).alias("scores")).collect()
    scores = {s["field"]: round(s["importance"], 4) for s in row["scores"]}
    assert scores == {"colour": 1.0, "brand": 0.6667, "material": 0.5, "main_category": 0.5,
                      "subcategory": 0.5, "shop_id": 0.5}
    (top,) = lists.select(context.top_fields(F.col("products"), 4).alias("top_fields")).collect()
    assert top["top_fields"] == ["colour", "brand", "main_category", "material"]
