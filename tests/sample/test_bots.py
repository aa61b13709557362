"""Each bot rule on inline rows."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from jobs.common.settings import SampleSettings
from jobs.sample.bots import bot_flags, user_agent_pattern

from .conftest import at, event
from .test_noclick import EVENT_SCHEMA

RULES = "query_id string, bot_user_agent boolean, bot_rate boolean, bot_daily_volume boolean, bot_shared_ip boolean"


def _flags(spark, rows, **settings):
    events = spark.createDataFrame(rows, EVENT_SCHEMA)
    flags = bot_flags(events, SampleSettings(**settings))
    return flags.select("query_id", "bot_user_agent", "bot_rate", "bot_daily_volume", "bot_shared_ip")


def test_bot_user_agents_match_case_insensitively(spark):
    rows = [event("q1", at(0), user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),
            event("q2", at(0), user_id="u2", user_agent="python-requests/2.32"),
            event("q3", at(0), user_id="u3", user_agent="Mozilla/5.0 HeadlessChrome/120.0"),
            event("q4", at(0), user_id="u4", user_agent="Mozilla/5.0 (Linux; Android 14) Mobile")]
    expected = [("q1", True, False, False, False), ("q2", True, False, False, False),
                ("q3", True, False, False, False), ("q4", False, False, False, False)]
    assertDataFrameEqual(_flags(spark, rows), spark.createDataFrame(expected, RULES))


def test_rate_flags_every_query_of_a_user_over_the_limit_in_a_sliding_window(spark):
    # u1: 4 requests within 60 s (over a limit of 3) straddling a minute boundary, plus one later;
    # u2: 4 requests, each 21 s apart: never more than 3 in any 60 s span.
    burst = [event(f"a{i}", at(50 + 3 * i)) for i in range(4)] + [event("a-later", at(3600))]
    spaced = [event(f"b{i}", at(21 * i), user_id="u2", ip="10.0.0.2") for i in range(4)]
    flags = _flags(spark, burst + spaced, rate_window_s=60, max_requests_per_window=3)
    expected = [(f"a{i}", False, True, False, False) for i in range(4)] + [("a-later", False, True, False, False)]
    expected += [(f"b{i}", False, False, False, False) for i in range(4)]
    assertDataFrameEqual(flags, spark.createDataFrame(expected, RULES))


def test_daily_volume_counts_requests_per_utc_day(spark):
    heavy = [event(f"h{i}", at(600 * i), user_id="heavy") for i in range(4)]
    split = [event(f"s{i}", at(600 * i, day=i % 2), user_id="split", ip="10.0.0.2") for i in range(4)]
    flags = _flags(spark, heavy + split, max_requests_per_day=3)
    expected = [(f"h{i}", False, False, True, False) for i in range(4)]
    expected += [(f"s{i}", False, False, False, False) for i in range(4)]
    assertDataFrameEqual(flags, spark.createDataFrame(expected, RULES))


def test_shared_ip_flags_an_ip_with_too_many_users_on_one_day(spark):
    rotating = [event(f"r{i}", at(600 * i), user_id=f"r{i}", ip="1.2.3.4") for i in range(3)]
    other_day = [event("o1", at(0, day=1), user_id="o1", ip="1.2.3.4")]
    flags = _flags(spark, rotating + other_day, max_users_per_ip=2)
    expected = [(f"r{i}", False, False, False, True) for i in range(3)] + [("o1", False, False, False, False)]
    assertDataFrameEqual(flags, spark.createDataFrame(expected, RULES))


def test_user_agent_pattern_with_no_patterns_matches_nothing():
    import re

    assert re.search(user_agent_pattern([]), "Googlebot") is None
    assert re.search(user_agent_pattern(["curl/"]).removeprefix("(?i)"), "curl/8.0")
