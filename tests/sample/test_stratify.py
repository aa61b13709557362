"""Stratified sampling: counts per category, weights, seed stability."""

from __future__ import annotations

from jobs.sample.stratify import stratified_sample


def _queries(spark):
    rows = [(f"a{i}", "apparel") for i in range(7)] + [(f"j{i}", "jewellery") for i in range(2)]
    rows.append(("none", None))
    return spark.createDataFrame(rows, "query_id string, main_category string")


def _picked(df):
    return sorted(r["query_id"] for r in df.collect())


def test_counts_per_category_and_weights(spark):
    rows = stratified_sample(_queries(spark), 3, seed=7).collect()
    by_category = {}
    for r in rows:
        by_category.setdefault(r["main_category"], []).append(r)
    assert sorted(by_category) == ["apparel", "jewellery"]
    apparel, jewellery = by_category["apparel"], by_category["jewellery"]
    assert len(apparel) == 3 and len(jewellery) == 2
    assert {(r["category_population"], r["category_sampled"], r["sample_weight"]) for r in apparel} == {(7, 3, 7 / 3)}
    assert {(r["category_population"], r["category_sampled"], r["sample_weight"]) for r in jewellery} == {(2, 2, 1.0)}
    assert sorted(r["sample_rank"] for r in apparel) == [1, 2, 3]


def test_same_seed_same_sample_other_seed_other_order(spark):
    queries = _queries(spark)
    first = _picked(stratified_sample(queries, 3, seed=7))
    assert _picked(stratified_sample(queries.repartition(3), 3, seed=7)) == first
    others = {tuple(_picked(stratified_sample(queries, 3, seed=s))) for s in range(1, 6)}
    assert len(others) > 1


def test_a_larger_count_extends_the_sample(spark):
    queries = _queries(spark)
    small = set(_picked(stratified_sample(queries, 2, seed=11)))
    large = set(_picked(stratified_sample(queries, 4, seed=11)))
    assert small < large
