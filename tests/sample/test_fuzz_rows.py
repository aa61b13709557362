"""Fuzz of the sample stage's row rules (hypothesis): over random corrupt rows of all four log
tables, every input row ends exactly once, either clean or in ``rejected_rows``.

The rows go straight into Spark DataFrames (no files) and through ``clean_tables``, the one
function that holds every row rule, including the cross-table ones (unknown query, unknown
product). Identity is checked on row keys as multisets, not only on counts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.sample.logs import clean_tables

from .conftest import MONDAY

DATE = MONDAY.strftime("%Y-%m-%d")
IDS = st.sampled_from(["q1", "q2", "q3", "", " ", None])
PRODUCTS = st.sampled_from(["p1", "p2", "p3", "", None])
TIMES = st.sampled_from([MONDAY + dt.timedelta(hours=1), MONDAY + dt.timedelta(hours=1, seconds=10),
                         MONDAY - dt.timedelta(days=3), None])
TEXT = st.sampled_from([b"fine", b"caf\xc3\xa9", b"bad \xff\xfe", b"", None])  # bytes: invalid UTF-8 too
FLOATS = st.sampled_from([0.5, -0.2, 1.0, 2.0, -7.0, float("nan"), float("inf"), float("-inf"), None])

events = st.lists(st.fixed_dictionaries({
    "query_id": IDS, "user_id": st.sampled_from(["u1", "u2", "", None]), "ts": TIMES,
    "query_type": st.sampled_from(["image", "text", "video", None]),
    "image_uri": st.sampled_from(["images/a.png", "", None]), "device": TEXT, "user_agent": TEXT,
    "ip": st.sampled_from(["10.0.0.1", None])}), max_size=12)
impressions = st.lists(st.fixed_dictionaries({
    "query_id": IDS, "rank": st.sampled_from([1, 2, 0, -3, None]), "product_id": PRODUCTS,
    "similarity": FLOATS}), max_size=12)
clicks = st.lists(st.fixed_dictionaries({"query_id": IDS, "product_id": PRODUCTS, "ts": TIMES}), max_size=6)
products = st.lists(st.fixed_dictionaries({
    "product_id": PRODUCTS, "title": TEXT, "main_category": st.sampled_from(["apparel", "", None]),
    "price": FLOATS, "image_uri": st.sampled_from(["images/p.png", None])}), max_size=8)

SCHEMAS = {
    "search_events": ("query_id string, user_id string, ts timestamp, query_type string, image_uri string, "
                      "device binary, user_agent binary, ip string"),
    "impressions": "query_id string, rank int, product_id string, similarity float",
    "clicks": "query_id string, product_id string, ts timestamp",
    "products": "product_id string, title binary, main_category string, price double, image_uri string",
}


def frame(spark, table: str, rows: list[dict]):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(rows, SCHEMAS[table])
    for field in df.schema.fields:  # bytes -> string without validation, as Parquet gives them
        if field.dataType.simpleString() == "binary":
            df = df.withColumn(field.name, F.col(field.name).cast("string"))
    return df.withColumn("date", F.lit(DATE if table != "products" else None).cast("string"))


def key(table: str, row: dict):
    """The ``row_key`` that ``rejected_rows`` gives a row of ``table``."""
    if table == "impressions":
        return "#".join(str(v) for v in (row["query_id"], row["rank"]) if v is not None)
    return row["product_id"] if table == "products" else row["query_id"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(events=events, impressions=impressions, clicks=clicks, products=products)
def test_every_row_is_accounted_for_exactly_once(spark, events, impressions, clicks, products):
    rows = {"search_events": events, "impressions": impressions, "clicks": clicks, "products": products}
    tables = clean_tables({t: frame(spark, t, r) for t, r in rows.items()})
    rejected = Counter()
    for r in tables.rejected.collect():
        rejected[(r["table"], r["row_key"])] += 1
    clean = {"search_events": tables.events, "impressions": tables.impressions, "clicks": tables.clicks,
             "products": tables.products}
    for table, input_rows in rows.items():
        kept = Counter(key(table, r.asDict()) for r in clean[table].collect())
        out = kept + Counter({k: n for (t, k), n in rejected.items() if t == table})
        expected = Counter(key(table, r) for r in input_rows)
        assert sum(kept.values()) + sum(n for (t, _), n in rejected.items() if t == table) == len(input_rows)
        assert out == expected, table
    # what is clean is clean: the rules that guard the later stages hold on every kept row
    for r in tables.impressions.collect():
        assert r["rank"] >= 1 and -1 <= r["similarity"] <= 1
    for r in tables.products.collect():
        assert r["price"] >= 0 and r["title"] is not None and "\ufffd" not in r["title"]
