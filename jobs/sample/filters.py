"""Every filter as a named boolean column, and the reasons a no-click query is dropped.

Rules are checked in the order of :data:`REASONS`; ``reason`` is the first that
fired, ``reasons`` all of them. Pixels are read only for queries no bot rule
dropped. The exposure rules come before ``image_blurred`` because a dark, bright
or flat image also has a low Laplacian variance: the more specific reason wins.
"""

from __future__ import annotations

from jobs.common.images import IMAGE_REASONS
from jobs.sample.bots import BOT_RULES, bot_flags
from jobs.sample.quality import image_scores

# refused or unreadable files first (jobs/common/images.py), then the pixel measures
IMAGE_RULES = IMAGE_REASONS + ("image_tiny", "image_dark", "image_bright", "image_uniform", "image_blurred")
REASONS = BOT_RULES + IMAGE_RULES


def _fmt(column: str, digits: int = 1):
    from pyspark.sql import functions as F

    return F.format_number(F.col(column).cast("double"), digits)


def rule_columns(s) -> list[tuple[str, object, object]]:
    """(reason, fired, detail) for each rule, in :data:`REASONS` order."""
    from pyspark.sql import functions as F

    def flag(column):
        return F.coalesce(F.col(column), F.lit(False))

    scored = ~F.col("any_bot")  # pixels are read only for queries no bot rule dropped
    readable = scored & F.col("image_reason").isNull() & F.col("width").isNotNull()
    rules = [
        ("bot_user_agent", flag("bot_user_agent"), F.concat(F.lit("user agent "), F.col("user_agent"))),
        ("bot_rate", flag("bot_rate"), F.format_string(
            "%d requests within %s s (max %d)", "peak_requests", F.lit(f"{s.rate_window_s:g}"),
            F.lit(s.max_requests_per_window))),
        ("bot_daily_volume", flag("bot_daily_volume"), F.format_string(
            "%d requests on one day (max %d)", "peak_day_requests", F.lit(s.max_requests_per_day))),
        ("bot_shared_ip", flag("bot_shared_ip"), F.format_string(
            "%d users on this IP that day (max %d)", "ip_users", F.lit(s.max_users_per_ip))),
        *[(name, scored & ~readable & (F.coalesce(F.col("image_reason"), F.lit("image_unreadable")) == name),
           F.coalesce(F.col("image_error"), F.lit("image not scored"))) for name in IMAGE_REASONS],
        ("image_tiny", readable & (F.least("width", "height") < s.min_side_px), F.format_string(
            "%dx%d px (min side %d)", "width", "height", F.lit(s.min_side_px))),
        ("image_dark", readable & (F.col("brightness") < s.dark_max_mean), F.concat(
            F.lit("mean grey "), _fmt("brightness"), F.lit(f" < {s.dark_max_mean:g}"))),
        ("image_bright", readable & (F.col("brightness") > s.bright_min_mean), F.concat(
            F.lit("mean grey "), _fmt("brightness"), F.lit(f" > {s.bright_min_mean:g}"))),
        ("image_uniform", readable & (F.col("contrast") < s.uniform_max_std), F.concat(
            F.lit("grey std "), _fmt("contrast", 2), F.lit(f" < {s.uniform_max_std:g}"))),
        ("image_blurred", readable & (F.col("blur_score") < s.blur_min_laplacian_var), F.concat(
            F.lit("Laplacian variance "), _fmt("blur_score"), F.lit(f" < {s.blur_min_laplacian_var:g}"))),
    ]
    assert tuple(name for name, _, _ in rules) == REASONS
    return rules


def with_reasons(df, s):
    """Add ``reason`` (first rule that fired, or null), ``reasons`` and ``detail``."""
    from pyspark.sql import functions as F

    rules = rule_columns(s)
    fired = F.array(*[F.when(is_set, F.lit(name)) for name, is_set, _ in rules])
    reasons = F.filter(fired, lambda name: name.isNotNull())
    detail = F.coalesce(*[F.when(is_set, text) for _, is_set, text in rules])
    return (df.withColumn("reasons", reasons)
              .withColumn("reason", F.get(F.col("reasons"), 0))
              .withColumn("detail", detail))


def flag_no_click(no_click, week_events, policy, s):
    """No-click queries with bot flags, image scores and their drop reasons.

    ``week_events`` (all query types) feed the rate rules; pixels are scored only
    for queries that no bot rule flagged.
    """
    from pyspark.sql import functions as F

    flags = bot_flags(week_events, s)
    with_bots = no_click.join(flags.drop("user_agent"), "query_id", "left")
    any_bot = F.lit(False)
    for rule in BOT_RULES:
        any_bot = any_bot | F.coalesce(F.col(rule), F.lit(False))
    with_bots = with_bots.withColumn("any_bot", any_bot)
    scores = image_scores(with_bots.where(~F.col("any_bot")), policy, s.quality_max_side)
    return with_reasons(with_bots.join(scores, "image_uri", "left"), s)
