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


def tag(df, rules: list[tuple[str, object, object]]):
    """``df`` with ``_reason`` and ``_detail``: the first of the named rules that fires.

    ``rules`` are ``(reason, is_bad, detail)``: a boolean column naming the bad rows and a
    string column describing the bad value. Untagged rows (``_reason`` null) are clean so far.
    """
    from pyspark.sql import functions as F

    reason = F.coalesce(*[F.when(is_bad, F.lit(name)) for name, is_bad, _ in rules])
    detail = F.coalesce(*[F.when(is_bad, d) for _, is_bad, d in rules])
    return df.withColumn("_reason", reason).withColumn("_detail", detail)


def _tag_more(df, reason, detail):
    """Tag the rows still clean with ``reason``/``detail`` where ``reason`` is not null."""
    from pyspark.sql import functions as F

    clean = F.col("_reason").isNull()
    return (df.withColumn("_detail", F.when(clean, detail).otherwise(F.col("_detail")))
              .withColumn("_reason", F.when(clean, reason).otherwise(F.col("_reason"))))


def tag_duplicates(df, key: list[str], order: list):
    """Among the clean rows, keep one per ``key`` (the first by ``order``); tag the rest ``duplicate``.

    Tagged rows sort after the clean ones in each key, so a clean row's copy number
    counts clean rows only.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    position = F.row_number().over(Window.partitionBy(*key).orderBy(F.col("_reason").isNotNull(), *order))
    ranked = df.withColumn("_position", position)
    copy = F.col("_position") > 1
    detail = F.concat(F.lit("copy "), F.col("_position").cast("string"), F.lit(f" of the same {'+'.join(key)}"))
    return _tag_more(ranked, F.when(copy, F.lit("duplicate")), F.when(copy, detail)).drop("_position")


def tag_unknown(df, references: list[tuple[str, str, object]]):
    """Tag the clean rows whose key is missing from a reference: ``(reason, column, known keys)``.

    The first reference a row's key is missing from is its reason; one left join per reference.
    """
    from pyspark.sql import functions as F

    reasons, details = [], []
    for i, (reason, column, known) in enumerate(references):
        found = f"_known{i}"
        keys = known.select(F.col(column).alias(found)).distinct()
        df = df.join(keys, F.col(column) == F.col(found), "left")
        missing = F.col(found).isNull()
        reasons.append(F.when(missing, F.lit(reason)))
        details.append(F.when(missing, F.concat(F.lit(f"{column} "), _utf8_safe(column),
                                                F.lit(f" {UNKNOWN[reason]}"))))
    tagged = _tag_more(df, F.coalesce(*reasons), F.coalesce(*details))
    return tagged.drop(*[f"_known{i}" for i in range(len(references))])


def split(tagged, table: str, row_key, checkpoint: bool = True):
    """(clean rows, rejected rows) of a tagged table.

    With ``checkpoint`` the tagged rows are computed once (and cut from their lineage) and
    both parts read them, so writing ``rejected_rows`` runs neither the rules, nor the
    duplicate window, nor the reference joins again.
    """
    from pyspark.sql import functions as F

    if checkpoint:
        tagged = tagged.localCheckpoint(eager=True)
    rejected = tagged.where(F.col("_reason").isNotNull()).select(
        F.lit(table).alias("table"), row_key.alias("row_key"),
        F.col("_reason").alias("reason"), F.col("_detail").alias("detail"))
    return tagged.where(F.col("_reason").isNull()).drop("_reason", "_detail"), rejected


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


def clean_events(df, checkpoint: bool = True):
    """(clean search events, rejected ones): the row rules, then one row per ``query_id``."""
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
    order = ["ts", "user_id", "query_type", "image_uri", "device", "user_agent", "ip"]
    tagged = tag_duplicates(tag(df, rules), ["query_id"], order)
    return split(tagged, "search_events", _utf8_safe("query_id"), checkpoint)


def clean_impressions(df, events, products):
    """(clean impressions, rejected ones): row rules, one per (query, rank), known query and product."""
    from pyspark.sql import functions as F

    similarity = F.col("similarity")
    rules = [
        _utf8_rule(df),
        ("null_id", _blank("query_id") | _blank("product_id"), F.lit("query_id or product_id is empty")),
        ("bad_rank", F.col("rank").isNull() | (F.col("rank") < 1), _as_text("rank", "rank")),
        ("bad_similarity", similarity.isNull() | F.isnan(similarity) | (similarity < -1) | (similarity > 1),
         _as_text("similarity", "similarity")),
    ]
    tagged = tag_duplicates(tag(df, rules), ["query_id", "rank"], [F.col("similarity").desc(), "product_id"])
    tagged = tag_unknown(tagged, [("unknown_query", "query_id", events), ("unknown_product", "product_id", products)])
    return split(tagged, "impressions", F.concat_ws("#", _utf8_safe("query_id"), F.col("rank").cast("string")))


def clean_clicks(df, events, checkpoint: bool = True):
    """(clean clicks, rejected ones): row rules and a known query."""
    from pyspark.sql import functions as F

    rules = [
        _utf8_rule(df),
        ("null_id", _blank("query_id") | _blank("product_id"), F.lit("query_id or product_id is empty")),
        ("null_timestamp", F.col("ts").isNull(), F.lit("ts is null or not a timestamp")),
    ]
    tagged = tag_unknown(tag(df, rules), [("unknown_query", "query_id", events)])
    return split(tagged, "clicks", _utf8_safe("query_id"), checkpoint)


def clean_products(df):
    """(clean catalogue, rejected rows): row rules, then one row per ``product_id``."""
    from pyspark.sql import functions as F

    rules = [
        _utf8_rule(df),
        ("null_id", _blank("product_id"), F.lit("product_id is empty")),
        ("missing_category", _blank("main_category"), F.lit("main_category is empty")),
        ("bad_price", F.col("price").isNull() | F.isnan("price") | (F.col("price") < 0), _as_text("price", "price")),
        ("missing_field", F.col("title").isNull() | F.col("image_uri").isNull(), F.lit("title or image_uri is null")),
    ]
    tagged = tag_duplicates(tag(df, rules), ["product_id"], ["title", "image_uri"])
    return split(tagged, "products", _utf8_safe("product_id"))


def read_logs(spark, logs: str, start: dt.datetime) -> LogTables:
    """The week's clean log tables; raises InputError for a missing table."""
    dates = week_dates(start)
    return clean_tables({t: read_raw(spark, logs, t, dates if t in PARTITIONED else None)
                         for t in ("search_events", "impressions", "clicks", "products")})


def clean_tables(raw: dict) -> LogTables:
    """The row rules, all in one place: every raw row ends clean or in ``rejected`` once.

    Each table is tagged (rules, duplicates, references) in one pass and checkpointed: the
    clean rows and the rejected ones both read it, and later steps' plans stay small
    (copied into each, they once ran Catalyst out of heap).
    """
    events, bad_events = clean_events(raw["search_events"])
    products, bad_products = clean_products(raw["products"])
    impressions, bad_impressions = clean_impressions(raw["impressions"], events, products)
    clicks, bad_clicks = clean_clicks(raw["clicks"], events)
    rejected = bad_events.unionByName(bad_impressions).unionByName(bad_clicks).unionByName(bad_products)
    return LogTables(events.drop("date"), impressions.drop("date"), clicks.drop("date"),
                     products.drop("date"), rejected)
