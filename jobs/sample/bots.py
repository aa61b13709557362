"""Bot rules, one boolean column each, computed over all of the week's search events.

- ``bot_user_agent``: the event's user agent matches a configured pattern.
- ``bot_rate``: the user sent more than ``max_requests_per_window`` requests within
  some ``rate_window_s``-second span (a sliding window ending at each request);
  every query of that user in the week is flagged.
- ``bot_daily_volume``: the user sent more than ``max_requests_per_day`` requests on
  one UTC day (slow, steady scrapers stay under the rate limit).
- ``bot_shared_ip``: the IP carried more than ``max_users_per_ip`` distinct user ids
  on that day (one client rotating user ids).
"""

from __future__ import annotations

BOT_RULES = ("bot_user_agent", "bot_rate", "bot_daily_volume", "bot_shared_ip")


def user_agent_pattern(patterns: list[str]) -> str:
    """One case-insensitive regular expression matching any of ``patterns``."""
    return "(?i)(" + "|".join(f"(?:{p})" for p in patterns) + ")" if patterns else "(?!)"


def peak_user_rate(events, window_s: float):
    """Per user: the most requests inside any window of ``window_s`` seconds."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window_us = int(round(window_s * 1_000_000))
    trailing = Window.partitionBy("user_id").orderBy("ts_us").rangeBetween(-window_us, 0)
    in_window = events.select("user_id", F.unix_micros("ts").alias("ts_us")) \
        .withColumn("in_window", F.count(F.lit(1)).over(trailing))
    return in_window.groupBy("user_id").agg(F.max("in_window").alias("peak_requests"))


def bot_flags(events, settings):
    """Per query id of ``events``: one boolean per rule in :data:`BOT_RULES` and the numbers behind them."""
    from pyspark.sql import functions as F

    s = settings
    day = F.to_date("ts")
    daily_users = events.groupBy(day.alias("day"), "ip").agg(
        F.countDistinct("user_id").alias("ip_users"))
    daily_volume = events.groupBy(day.alias("day"), "user_id").agg(F.count(F.lit(1)).alias("day_requests")) \
        .groupBy("user_id").agg(F.max("day_requests").alias("peak_day_requests"))
    flags = (
        events.select("query_id", "user_id", "ip", "user_agent", day.alias("day"))
        .join(peak_user_rate(events, s.rate_window_s), "user_id", "left")
        .join(daily_volume, "user_id", "left")
        .join(daily_users, ["day", "ip"], "left")
    )
    bot_user_agent = F.coalesce(F.col("user_agent").rlike(user_agent_pattern(s.bot_user_agents)), F.lit(False))
    bot_rate = F.col("peak_requests") > s.max_requests_per_window
    bot_daily_volume = F.col("peak_day_requests") > s.max_requests_per_day
    bot_shared_ip = F.col("ip_users") > s.max_users_per_ip
    return flags.select(
        "query_id", "user_agent", "peak_requests", "peak_day_requests", "ip_users",
        bot_user_agent.alias("bot_user_agent"), bot_rate.alias("bot_rate"),
        bot_daily_volume.alias("bot_daily_volume"), bot_shared_ip.alias("bot_shared_ip"),
    )
