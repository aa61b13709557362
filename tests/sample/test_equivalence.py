"""On generated logs: Spark's no-click set equals a plain DuckDB reading of the rule,
and the filters find what the generator planted (its ground truth)."""

from __future__ import annotations

import duckdb
import pytest

from jobs.common.storage import read_table
from jobs.sample.stage import run_sample

from .conftest import WEEK

DUCKDB_NO_CLICK = """
with events as (  -- one row per query id: its earliest logging
    select query_id, min(ts) as ts, any_value(query_type) as query_type
    from read_parquet('{logs}/search_events/*/*.parquet', hive_partitioning = true)
    where query_id is not null and user_id is not null and ts is not null
    group by query_id
)
select e.query_id from events e
where e.query_type = 'image'
  and e.ts >= '2026-11-16 00:00:00+00' and e.ts < '2026-11-23 00:00:00+00'
  and not exists (
    select 1 from read_parquet('{logs}/clicks/*/*.parquet', hive_partitioning = true) c
    where c.query_id = e.query_id
      and epoch_us(c.ts) - epoch_us(e.ts) between 0 and 30000000)
"""


@pytest.fixture(scope="module")
def generated_run(small_logs, tmp_path_factory, spark):
    from jobs.common.settings import Settings, SparkSettings

    root = tmp_path_factory.mktemp("warehouse")
    settings = Settings(spark=SparkSettings(master="local[2]", shuffle_partitions=1))
    summary = run_sample(small_logs, root, WEEK, settings)
    return small_logs, root, summary


def _spark_no_click(root) -> set[str]:
    kept = read_table(root, "no_click_queries", WEEK).column("query_id").to_pylist()
    dropped = read_table(root, "filtered_queries", WEEK).column("query_id").to_pylist()
    assert not set(kept) & set(dropped)
    return set(kept) | set(dropped)


def test_no_click_ids_equal_a_duckdb_computation(generated_run):
    logs, root, summary = generated_run
    expected = {row[0] for row in duckdb.sql(DUCKDB_NO_CLICK.format(logs=logs)).fetchall()}
    assert len(expected) > 100
    assert _spark_no_click(root) == expected
    assert summary["no_click"] == len(expected)


def test_filters_find_the_planted_bots_and_defects(generated_run):
    logs, root, _ = generated_run
    truth = {r["query_id"]: r for r in
             duckdb.sql(f"select * from read_parquet('{logs}/ground_truth/*.parquet')").df().to_dict("records")}
    kept = read_table(root, "no_click_queries", WEEK).column("query_id").to_pylist()
    dropped = {r["query_id"]: r for r in read_table(root, "filtered_queries", WEEK).to_pylist()}
    bots_dropped = {q for q, r in dropped.items() if r["reason"].startswith("bot_")}
    planted_bots = {q for q in set(kept) | set(dropped) if truth[q]["user_is_bot"]}
    assert planted_bots and bots_dropped == planted_bots
    planted_defects = {q for q in set(kept) | set(dropped)
                       if truth[q]["image_defect"] and not truth[q]["user_is_bot"]}
    caught = {q for q in planted_defects if dropped.get(q, {}).get("reason", "").startswith("image_")}
    assert len(caught) >= 0.95 * len(planted_defects)
    clean = [q for q in set(kept) | set(dropped) if not truth[q]["user_is_bot"] and not truth[q]["image_defect"]]
    originals = [q for q in clean if not truth[q]["near_duplicate_of"]]
    wrongly = [dropped[q]["reason"] for q in originals if q in dropped]
    # a white item on a white background is very bright and nearly flat
    assert len(wrongly) <= 0.05 * len(originals) and set(wrongly) <= {"image_bright", "image_uniform"}
    # at the fixture's 64 px a shrunk re-upload is tiny, and JPEG smooths some below the blur line;
    # a copy of a white item on white is as bright and flat as its original (above)
    copies = {dropped[q]["reason"] for q in clean if q in dropped and truth[q]["near_duplicate_of"]}
    assert copies <= {"image_tiny", "image_bright", "image_blurred", "image_uniform"}
