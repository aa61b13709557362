"""The no-click rule at its edges, on inline rows."""

from __future__ import annotations

import datetime as dt

from pyspark.testing import assertDataFrameEqual

from jobs.sample.noclick import no_click_queries, week_image_queries
from .conftest import MONDAY, at, event

EVENT_SCHEMA = ("query_id string, user_id string, ts timestamp, query_type string, image_uri string, "
                "text string, device string, user_agent string, ip string")
CLICK_SCHEMA = "query_id string, product_id string, ts timestamp"


def _ids(df):
    return df.select("query_id")


def test_click_counts_up_to_exactly_30_seconds_after_the_query(spark):
    events = spark.createDataFrame([event("q29", at(0)), event("q30", at(0)), event("q31", at(0)),
                                    event("q30us", at(0))], EVENT_SCHEMA)
    clicks = spark.createDataFrame([
        ("q29", "p1", at(29)),
        ("q30", "p1", at(30)),
        ("q31", "p1", at(31)),
        ("q30us", "p1", at(30) + dt.timedelta(microseconds=1)),
    ], CLICK_SCHEMA)
    result = no_click_queries(events, clicks, 30.0)
    assertDataFrameEqual(_ids(result), spark.createDataFrame([("q31",), ("q30us",)], "query_id string"))


def test_click_before_the_query_or_on_another_query_does_not_count(spark):
    events = spark.createDataFrame([event("qa", at(100)), event("qb", at(100))], EVENT_SCHEMA)
    clicks = spark.createDataFrame([
        ("qa", "p1", at(99)),   # one second before the query
        ("qx", "p1", at(101)),  # another query's click, in the window of qb's timestamp
    ], CLICK_SCHEMA)
    result = no_click_queries(events, clicks, 30.0)
    assertDataFrameEqual(_ids(result), spark.createDataFrame([("qa",), ("qb",)], "query_id string"))


def test_one_click_in_the_window_is_enough_among_late_ones(spark):
    events = spark.createDataFrame([event("q1", at(0))], EVENT_SCHEMA)
    clicks = spark.createDataFrame([("q1", "p1", at(45)), ("q1", "p2", at(10)), ("q1", "p2", at(10))],
                                   CLICK_SCHEMA)
    assert no_click_queries(events, clicks, 30.0).count() == 0


def test_only_image_queries_of_the_utc_week(spark):
    end = MONDAY + dt.timedelta(days=7)
    events = spark.createDataFrame([
        event("in", MONDAY),
        event("text", at(5), query_type="text"),
        event("before", MONDAY - dt.timedelta(microseconds=1)),
        event("last", end - dt.timedelta(microseconds=1)),
        event("after", end),
    ], EVENT_SCHEMA)
    result = week_image_queries(events, MONDAY, end)
    assertDataFrameEqual(_ids(result), spark.createDataFrame([("in",), ("last",)], "query_id string"))
