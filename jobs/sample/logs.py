"""Read the week's raw log tables with Spark and quarantine malformed rows.

Layout (see ``jobs/generate``): ``LOGS/<table>/date=YYYY-MM-DD/part-*.parquet`` for
search events, impressions and clicks (impressions and clicks are partitioned by
the date of their query), ``LOGS/products/part-*.parquet`` for the catalogue.
Only the week's seven date partitions are read; their files were checked first
(``jobs/sample/files.py``: readable Parquet, required columns, types). A malformed row
never stops the run: it goes to ``rejected_rows`` with the first rule it broke, and the
remaining rows continue. Every string column must be valid UTF-8 (``invalid_utf8``).
Duplicates of a key keep one deterministic row; the others are quarantined as
``duplicate``. Impressions and clicks must point at a known query of the week
(``unknown_query``) and impressions at a known product (``unknown_product``), so no row
disappears in a join without a trace.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.errors import InputError
from jobs.sample.contract import spark_schema
from schemas.tables import Click, Impression, SearchEvent

PARTITIONED = {"search_events": SearchEvent, "impressions": Impression, "clicks": Click}
REJECTED_COLUMNS = ("table", "row_key", "reason", "detail")
UNKNOWN = {"unknown_query": "has no valid search event in the week",
           "unknown_product": "has no valid catalogue entry"}


@dataclass
class LogTables:
    """The clean input of one week, and what was quarantined on the way."""

    events: object  # pyspark DataFrames (kept untyped: importing pyspark stays lazy)
    impressions: object
    clicks: object
    products: object
    rejected: object


def week_dates(start: dt.datetime) -> list[str]:
    """The seven ``date=`` partition values of the week starting at ``start``."""
    return [(start + dt.timedelta(days=i)).strftime("%Y-%m-%d") for i in range(7)]


def read_raw(spark, logs: str, table: str, dates: list[str] | None):
    """One raw table, its columns cast (``try_cast``: bad values become nulls) to the model.

    Raises :class:`InputError` naming the path when the table is absent or lacks a column.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from schemas.tables import TABLES

    path = f"{logs.rstrip('/')}/{table}"
    layout = f"{path}/date=YYYY-MM-DD/part-*.parquet" if dates else f"{path}/part-*.parquet"
    try:
        df = spark.read.parquet(path)
    except AnalysisException as exc:
        raise InputError(f"table {table}: no readable Parquet at {path} (expected {layout}; "
                         f"{str(exc).splitlines()[0][:120]})") from None
    if dates is not None:
        if "date" not in df.columns:
            raise InputError(f"table {table}: {path} is not partitioned by date (expected {layout})")
        df = df.where(F.col("date").isin(dates))
    else:
        df = df.withColumn("date", F.lit(None).cast("string"))
    columns = []
    for field in spark_schema(TABLES[table]).fields:
        if field.name in df.columns:
            columns.append(F.col(field.name).try_cast(field.dataType).alias(field.name))
        elif field.nullable:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        else:
            raise InputError(f"table {table} ({path}): missing column '{field.name}' ({field.dataType.simpleString()})")
    return df.select(*columns, "date")


def quarantine(df, table: str, row_key, rules: list[tuple[str, object, object]]):
    """Split ``df`` into (clean rows, rejected rows) by named rules.

    ``rules`` are ``(reason, is_bad, detail)``: a boolean column naming the bad rows
    and a string column describing the bad value. The first rule that fires is the reason.
    """
    from pyspark.sql import functions as F

    reason = F.coalesce(*[F.when(is_bad, F.lit(name)) for name, is_bad, _ in rules])
    detail = F.coalesce(*[F.when(is_bad, d) for _, is_bad, d in rules])
    tagged = df.withColumn("_reason", reason).withColumn("_detail", detail)
    rejected = tagged.where(F.col("_reason").isNotNull()).select(
        F.lit(table).alias("table"), row_key.alias("row_key"),
        F.col("_reason").alias("reason"), F.col("_detail").alias("detail"))
    clean = tagged.where(F.col("_reason").isNull()).drop("_reason", "_detail")
    return clean, rejected


def keep_first(df, table: str, key: list[str], order: list, row_key):
    """Keep one row per ``key`` (the first by ``order``); quarantine the rest as duplicates."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    position = F.row_number().over(Window.partitionBy(*key).orderBy(*order))
    ranked = df.withColumn("_position", position)
    duplicates = ranked.where(F.col("_position") > 1).select(
        F.lit(table).alias("table"), row_key.alias("row_key"), F.lit("duplicate").alias("reason"),
        F.concat(F.lit("copy "), F.col("_position").cast("string"),
                 F.lit(f" of the same {'+'.join(key)}")).alias("detail"))
    return ranked.where(F.col("_position") == 1).drop("_position"), duplicates


def _blank(column: str):
    from pyspark.sql import functions as F

    return F.col(column).isNull() | (F.trim(F.col(column)) == "")


def _as_text(label: str, column: str):
    from pyspark.sql import functions as F

    return F.concat(F.lit(f"{label}="), F.coalesce(F.col(column).cast("string"), F.lit("null")))


def _utf8_rule(df):
    """``invalid_utf8``: a string column whose bytes are not UTF-8 (Spark keeps the bytes as read).

    One test on the columns joined by an ASCII separator (valid iff every part is: a cut
    multi-byte sequence cannot be completed by the separator), so the filter stays one
    expression. (With the catalogue's twenty cast columns, Catalyst's constraint propagation
    ran out of heap on this rule: ``jobs/common/spark.py`` turns it off.)
    """
    from pyspark.sql import functions as F

    strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string" and f.name != "date"]
    fired = ~F.coalesce(F.is_valid_utf8(F.concat_ws("\x01", *strings)), F.lit(True))
    named = F.filter(F.array(*[F.when(~F.is_valid_utf8(c), F.lit(c)) for c in strings]), lambda c: c.isNotNull())
    return ("invalid_utf8", fired, F.concat(F.lit("not valid UTF-8: "), F.array_join(named, ", ")))


def _utf8_safe(column: str):
    """A key for ``rejected_rows`` that stays valid UTF-8 even when the column is not."""
    from pyspark.sql import functions as F

    return F.when(F.is_valid_utf8(column), F.col(column)).otherwise(F.make_valid_utf8(column))


def clean_events(df):
    from pyspark.sql import functions as F

    rules = [
        _utf8_rule(df),
        ("null_id", _blank("query_id") | _blank("user_id"), F.lit("query_id or user_id is empty")),
        ("null_timestamp", F.col("ts").isNull(), F.lit("ts is null or not a timestamp")),
        ("timestamp_outside_partition", F.date_format("ts", "yyyy-MM-dd") != F.col("date"),
         F.concat(_as_text("ts", "ts"), F.lit(" in partition date="), F.col("date"))),
        ("bad_query_type", ~F.coalesce(F.col("query_type").isin("image", "text"), F.lit(False)),
         _as_text("query_type", "query_type")),
        ("missing_image_uri", (F.col("query_type") == "image") & _blank("image_uri"),
         F.lit("image query without image_uri")),
    ]
    clean, bad = quarantine(df, "search_events", _utf8_safe("query_id"), rules)
    order = ["ts", "user_id", "query_type", "image_uri", "device", "user_agent", "ip"]
    clean, dupes = keep_first(clean, "search_events", ["query_id"], order, F.col("query_id"))
    return clean, bad.unionByName(dupes)


def clean_impressions(df):
    from pyspark.sql import functions as F

    key = F.concat_ws("#", _utf8_safe("query_id"), F.col("rank").cast("string"))
    similarity = F.col("similarity")
    rules = [
        _utf8_rule(df),
        ("null_id", _blank("query_id") | _blank("product_id"), F.lit("query_id or product_id is empty")),
        ("bad_rank", F.col("rank").isNull() | (F.col("rank") < 1), _as_text("rank", "rank")),
        ("bad_similarity", similarity.isNull() | F.isnan(similarity) | (similarity < -1) | (similarity > 1),
         _as_text("similarity", "similarity")),
    ]
    clean, bad = quarantine(df, "impressions", key, rules)
    order = [F.col("similarity").desc(), "product_id"]
    clean, dupes = keep_first(clean, "impressions", ["query_id", "rank"], order, key)
    return clean, bad.unionByName(dupes)


def clean_clicks(df):
    from pyspark.sql import functions as F

    rules = [
        ("null_id", _blank("query_id") | _blank("product_id"), F.lit("query_id or product_id is empty")),
        ("null_timestamp", F.col("ts").isNull(), F.lit("ts is null or not a timestamp")),
    ]
    return quarantine(df, "clicks", _utf8_safe("query_id"), [_utf8_rule(df)] + rules)


def clean_products(df):
    from pyspark.sql import functions as F

    rules = [
        _utf8_rule(df),
        ("null_id", _blank("product_id"), F.lit("product_id is empty")),
        ("missing_category", _blank("main_category"), F.lit("main_category is empty")),
        ("bad_price", F.col("price").isNull() | F.isnan("price") | (F.col("price") < 0), _as_text("price", "price")),
        ("missing_field", F.col("title").isNull() | F.col("image_uri").isNull(), F.lit("title or image_uri is null")),
    ]
    clean, bad = quarantine(df, "products", _utf8_safe("product_id"), rules)
    clean, dupes = keep_first(clean, "products", ["product_id"], ["title", "image_uri"], F.col("product_id"))
    return clean, bad.unionByName(dupes)


def unknown_references(df, table: str, row_key, references: list[tuple[str, str, object]],
                       checkpoint: bool = False):
    """Split ``df`` into (rows whose keys exist, rejected rows): ``(reason, column, known keys)``.

    The first reference a row's key is missing from is its reason. Every row is tagged in
    one pass; with ``checkpoint`` the tagged rows are computed once and both parts read
    them, so the joins do not run again when the rejected rows are written.
    """
    from pyspark.sql import functions as F

    tagged, reasons, details = df, [], []
    for i, (reason, column, known) in enumerate(references):
        found = f"_known{i}"
        keys = known.select(F.col(column).alias(found)).distinct()
        tagged = tagged.join(keys, F.col(column) == F.col(found), "left")
        missing = F.col(found).isNull()
        reasons.append(F.when(missing, F.lit(reason)))
        details.append(F.when(missing, F.concat(F.lit(f"{column} "), _utf8_safe(column),
                                                F.lit(f" {UNKNOWN[reason]}"))))
    helpers = [f"_known{i}" for i in range(len(references))]
    tagged = tagged.withColumn("_reason", F.coalesce(*reasons)).withColumn("_detail", F.coalesce(*details))
    if checkpoint:
        tagged = tagged.localCheckpoint(eager=True)
    rejected = tagged.where(F.col("_reason").isNotNull()).select(
        F.lit(table).alias("table"), row_key.alias("row_key"), F.col("_reason").alias("reason"),
        F.col("_detail").alias("detail"))
    return tagged.where(F.col("_reason").isNull()).drop(*helpers, "_reason", "_detail"), rejected


def read_logs(spark, logs: str, start: dt.datetime) -> LogTables:
    """The week's clean log tables; raises InputError for a missing table."""
    dates = week_dates(start)
    return clean_tables({t: read_raw(spark, logs, t, dates if t in PARTITIONED else None)
                         for t in ("search_events", "impressions", "clicks", "products")})


def clean_tables(raw: dict) -> LogTables:
    """The row rules, all in one place: every raw row ends clean or in ``rejected`` once."""
    from pyspark.sql import functions as F

    events, bad_events = clean_events(raw["search_events"])
    impressions, bad_impressions = clean_impressions(raw["impressions"])
    clicks, bad_clicks = clean_clicks(raw["clicks"])
    products, bad_products = clean_products(raw["products"])
    # computed once and cut from their lineage: the reference checks and every later step
    # read them, and their plans would otherwise be copied into each (Catalyst ran out of heap)
    events, products = events.localCheckpoint(eager=True), products.localCheckpoint(eager=True)
    # the clean impressions are read three times (the kept queries' products, their context,
    # the accepted count) and the orphans once (rejected_rows): the tagged rows are computed
    # once, instead of each time from the raw scan and joins
    impressions, orphan_impressions = unknown_references(
        impressions, "impressions", F.concat_ws("#", "query_id", F.col("rank").cast("string")),
        [("unknown_query", "query_id", events), ("unknown_product", "product_id", products)], checkpoint=True)
    clicks, orphan_clicks = unknown_references(clicks, "clicks", F.col("query_id"),
                                               [("unknown_query", "query_id", events)])
    rejected = (bad_events.unionByName(bad_impressions).unionByName(orphan_impressions)
                .unionByName(bad_clicks).unionByName(orphan_clicks).unionByName(bad_products))
    return LogTables(events.drop("date"), impressions.drop("date"), clicks.drop("date"),
                     products.drop("date"), rejected)
