"""The no-click rule, exactly: an image query is clicked iff a click on the same
query id comes 0 <= click_ts - query_ts <= window seconds after it.

Times are compared in whole microseconds (``unix_micros``), so the window edge is
exact: a click at +30 s counts, one at +30.000001 s does not.
"""

from __future__ import annotations

import datetime as dt


def week_image_queries(events, start: dt.datetime, end: dt.datetime):
    """Image queries whose timestamp lies in [start, end) (UTC)."""
    from pyspark.sql import functions as F

    is_image = F.col("query_type") == "image"
    in_week = (F.col("ts") >= F.lit(start)) & (F.col("ts") < F.lit(end))
    return events.where(is_image & in_week)


def no_click_queries(queries, clicks, window_s: float):
    """The queries with no click on the same query id within ``window_s`` seconds after them."""
    from pyspark.sql import functions as F

    window_us = int(round(window_s * 1_000_000))
    click_times = clicks.select(F.col("query_id").alias("click_query_id"),
                                F.unix_micros("ts").alias("click_us"))
    delay_us = F.col("click_us") - F.unix_micros(F.col("ts"))
    same_query = F.col("query_id") == F.col("click_query_id")
    within_window = (delay_us >= 0) & (delay_us <= window_us)
    return queries.join(click_times, same_query & within_window, "left_anti")
