"""``run_sample``: read the week, detect no-click queries, filter, sample, publish.

The one entry point that the CLI, ``intentmine demo``, the DAG and ``spark-submit``
(``jobs/sample/submit.py``) call. Each output table is written aside and published
whole as ``<root>/<table>/week=W/run=R/``; the run id comes from the week and the
settings, so a rerun replaces the same run instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from core.errors import InputError
from jobs.common import fs
from jobs.common.storage import default_run_id, publishing, record_stage, stage_run, week_bounds
from jobs.sample.contract import conform
from schemas.tables import FilteredQuery, NoClickQuery, RejectedRow, Sample, StageRecord

log = logging.getLogger("intentmine")
OUTPUTS = ("no_click_queries", "filtered_queries", "rejected_rows", "samples")


def _location(path: Path | str) -> str:
    """A path string Spark and the image reader agree on (URIs with a scheme pass through)."""
    text = str(path)
    return text if "://" in text else str(Path(text).resolve())


def materialize(df, step: str, timings: dict):
    """Compute ``df`` once and cut its lineage, so later steps neither recompute nor re-plan it.

    A local checkpoint lives on the executors: a lost executor fails the job, which the
    scheduler's retry reruns whole. Each table is published atomically, ``samples``
    (what the next stage reads) last, and a rerun replaces the same run id.
    """
    began = time.perf_counter()
    df = df.localCheckpoint(eager=True)
    timings[f"{step}_s"] = round(time.perf_counter() - began, 2)
    log.info("sample: %s in %.1fs", step, timings[f"{step}_s"])
    return df


def build_tables(spark, logs: str, week: str, settings, run_id: str, timings: dict) -> dict:
    """The four output DataFrames of the week, the events' count per query type and the
    accepted rows per input table. Raises InputError when the week has no search events.
    """
    from pyspark.sql import functions as F

    from jobs.common.images import image_policy
    from jobs.sample import context
    from jobs.sample.filters import flag_no_click
    from jobs.sample.logs import read_logs
    from jobs.sample.noclick import no_click_queries, week_image_queries
    from jobs.sample.pseudonym import pseudonymise
    from jobs.sample.stratify import stratified_sample

    s = settings.sample
    policy = image_policy(logs, settings)
    start, end = week_bounds(week)
    began = time.perf_counter()
    raw = read_logs(spark, logs, start)  # clean events and products are materialised inside
    timings["read_events_s"] = round(time.perf_counter() - began, 2)
    events = raw.events  # in the week: each event's date is its partition's (logs.py)
    by_type = {row["query_type"]: row["count"] for row in events.groupBy("query_type").count().collect()}
    if not by_type:
        raise InputError(f"table search_events: no events in week {week} under {logs}/search_events")
    no_click = no_click_queries(week_image_queries(events, start, end), raw.clicks, s.click_window_s)
    flagged = materialize(flag_no_click(no_click, events, policy, s), "no_click_and_filters", timings)
    kept = flagged.where(F.col("reason").isNull())
    kept_impressions = raw.impressions.join(kept.select("query_id"), "query_id", "left_semi")
    products, bad_photos = checked_products(raw.products, kept_impressions, policy, timings)
    retrieved = materialize(context.retrieved_products(kept_impressions, products, s.max_products),
                            "retrieved_products", timings)
    kept = materialize(kept.join(context.main_categories(retrieved, s.category_top_k), "query_id", "left")
                       .withColumn("n_results", F.coalesce(F.col("n_results"), F.lit(0))),
                       "categories", timings)
    chosen = materialize(stratified_sample(kept, s.per_category, s.seed), "stratified_sample", timings)
    mine = retrieved.join(F.broadcast(chosen.select("query_id")), "query_id", "left_semi")  # lists only for these
    sampled = (chosen.join(context.product_lists(mine), "query_id", "inner")
               .withColumn("top_fields", context.top_fields(F.col("products"), s.top_fields)))
    run = F.lit(run_id)
    key = s.user_key.get_secret_value()

    def published(df, model):  # raw user ids stop here
        return conform(df.withColumn("user_id", pseudonymise("user_id", key)).withColumn("run_id", run), model)

    accepted = {"search_events": events.count(), "impressions": raw.impressions.count(),
                "clicks": raw.clicks.count(), "products": products.count()}
    return {
        "by_type": by_type, "accepted": accepted,
        "no_click_queries": published(kept, NoClickQuery),
        "filtered_queries": published(flagged.where(F.col("reason").isNotNull()), FilteredQuery),
        "rejected_rows": conform(raw.rejected.unionByName(bad_photos).withColumn("run_id", run), RejectedRow),
        "samples": published(sampled, Sample),
    }


def checked_products(products, impressions, policy, timings: dict):
    """(catalogue without the products whose photo is refused or unreadable, their rejected rows).

    Only photos of products that a kept query retrieved are read (each distinct file once);
    a product whose photo fails is dropped from every query's results and quarantined as a
    ``products`` row with the image reason, so analyse never meets a truncated photo.
    """
    from pyspark.sql import functions as F

    from jobs.sample.quality import image_checks

    shown = products.join(impressions.select("product_id").distinct(), "product_id", "left_semi")
    checks = materialize(image_checks(shown, policy), "product_photos", timings)
    failed = shown.select("product_id", "image_uri").join(
        checks.where(F.col("image_reason").isNotNull()), "image_uri", "inner")
    rejected = failed.select(F.lit("products").alias("table"), F.col("product_id").alias("row_key"),
                             F.col("image_reason").alias("reason"),
                             F.concat(F.lit("product photo: "), F.col("image_error")).alias("detail"))
    return products.join(failed.select("product_id"), "product_id", "left_anti"), rejected


def publish(df, root: Path | str, table: str, week: str, run_id: str, order: list[str]):
    """Write one table with Spark (a Hadoop path); it becomes visible when the run commits."""
    with publishing(root, table, week, run_id) as folder:
        df.sortWithinPartitions(*order).write.parquet(fs.spark_location(folder))
    return folder


def _read_back(folders: dict, table: str, columns: list[str]):
    """Some columns of a written table, with pyarrow (no Spark job for a few counts)."""
    import pyarrow.dataset as ds

    filesystem, path = fs.resolve(folders[table])
    return ds.dataset(path, filesystem=filesystem, format="parquet",
                      exclude_invalid_files=True).to_table(columns=columns)


def _counts(folders: dict) -> dict:
    """Rows per table, per reason and per category, read back from the written run."""
    def grouped(table, *keys):
        counts = _read_back(folders, table, list(keys)).group_by(list(keys)).aggregate(
            [([], "count_all")]).sort_by([(k, "ascending") for k in keys]).to_pylist()
        return {"/".join(str(r[k]) for k in keys): r["count_all"] for r in counts}

    samples = _read_back(folders, "samples", ["main_category", "category_population", "category_sampled"])
    categories = samples.group_by(["main_category", "category_population", "category_sampled"]) \
        .aggregate([]).sort_by("main_category").to_pylist()
    return {
        "rows": {t: _read_back(folders, t, []).num_rows for t in OUTPUTS},
        "filtered": grouped("filtered_queries", "reason"),
        "rejected": grouped("rejected_rows", "table", "reason"),
        "categories": {r["main_category"]: {"population": r["category_population"],
                                            "sampled": r["category_sampled"]} for r in categories},
        "no_click_by_category": grouped("no_click_queries", "main_category"),
    }


@stage_run(fingerprint_logs=True)
def run_sample(logs: Path | str, root: Path | str, week: str, settings) -> dict:
    """Run stage 1 for ``week``; return the counts printed in the summary.

    Raises :class:`InputError` for a bad week, a missing input table or an empty week.
    """
    from jobs.common.spark import get_spark

    from jobs.sample.files import check_log_files
    from jobs.sample.logs import week_dates

    started, clock = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    start, _ = week_bounds(week)
    run_id = default_run_id(week, settings)
    files = check_log_files(_location(logs), week_dates(start))  # bad files: one line, before Spark
    spark = get_spark(settings.spark)
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    timings: dict[str, float] = {}
    folders = {}
    tables = build_tables(spark, _location(logs), week, settings, run_id, timings)
    by_type = tables["by_type"]
    log.info("sample %s: %s events, run %s", week, f"{sum(by_type.values()):,}", run_id)
    for table, order in (("rejected_rows", ["table", "row_key"]), ("filtered_queries", ["query_id"]),
                         ("no_click_queries", ["query_id"]), ("samples", ["main_category", "sample_rank"])):
        began = time.perf_counter()
        folders[table] = publish(tables[table], root, table, week, run_id, order)
        timings[f"write_{table}_s"] = round(time.perf_counter() - began, 2)
        log.info("sample %s: published %s in %.1fs", week, table, timings[f"write_{table}_s"])
    counts = _counts(folders)
    rows = counts["rows"]
    seconds = time.perf_counter() - clock
    summary = _summary(week, run_id, by_type, rows, counts, seconds)
    summary["accounting"] = accounting(files.rows, tables["accepted"], counts["rejected"])
    summary["empty_partitions"] = len(files.empty_partitions)
    summary["empty_partition_names"] = files.empty_partitions
    summary["timings"] = timings
    metrics = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float))}
    record_stage(root, week, run_id, settings, StageRecord(
        stage="sample", started=started, seconds=seconds, tables=rows, metrics=metrics | timings),
        inputs={"logs": _location(logs)})
    return summary


def accounting(inputs: dict[str, int], accepted: dict[str, int], rejected: dict[str, int]) -> dict:
    """Per input table: rows read, accepted and rejected (``input == accepted + rejected``)."""
    out = {}
    for table, n in inputs.items():
        bad = sum(v for k, v in rejected.items() if k.split("/")[0] == table)
        out[table] = {"input": n, "accepted": accepted[table], "rejected": bad}
    return out


def _summary(week, run_id, by_type, rows, counts, seconds) -> dict:
    events = sum(by_type.values())
    image_queries = by_type.get("image", 0)
    no_click = rows["no_click_queries"] + rows["filtered_queries"]
    return {
        "week": week, "run_id": run_id, "events": events, "image_queries": image_queries,
        "text_queries": by_type.get("text", 0), "no_click": no_click,
        "no_click_rate": no_click / image_queries if image_queries else 0.0,
        "kept": rows["no_click_queries"], "filtered": rows["filtered_queries"],
        "filtered_rate": rows["filtered_queries"] / no_click if no_click else 0.0,
        "rejected": rows["rejected_rows"], "samples": rows["samples"],
        "seconds": seconds, "events_per_s": events / seconds if seconds else 0.0,
        "by_reason": counts["filtered"], "rejected_by_reason": counts["rejected"],
        "by_category": counts["categories"], "no_click_by_category": counts["no_click_by_category"],
    }


def format_summary(summary: dict) -> str:
    """A readable multi-line summary of :func:`run_sample`'s result."""
    lines = [
        f"sample {summary['week']} (run {summary['run_id']}): {summary['events']:,} events, "
        f"{summary['image_queries']:,} image queries ({summary['text_queries']:,} text ignored), "
        f"{summary['seconds']:.1f} s ({summary['events_per_s']:,.0f} events/s)",
        f"  no-click: {summary['no_click']:,} ({summary['no_click_rate']:.1%} of image queries); "
        f"kept {summary['kept']:,}, filtered {summary['filtered']:,} ({summary['filtered_rate']:.1%})",
    ]
    for reason, n in summary["by_reason"].items():
        lines.append(f"    filtered {reason:<18} {n:>9,}")
    for reason, n in summary["rejected_by_reason"].items():
        lines.append(f"    rejected {reason:<34} {n:>9,}")
    for table, a in summary.get("accounting", {}).items():
        lines.append(f"  {table:<14} read {a['input']:>9,}  accepted {a['accepted']:>9,}  "
                     f"rejected {a['rejected']:>7,}")
    if summary.get("empty_partitions"):
        lines.append(f"  empty day partitions ({summary['empty_partitions']}): "
                     + ", ".join(summary["empty_partition_names"]))
    unsampled = summary["no_click_by_category"].get("None", 0)
    if unsampled:
        lines.append(f"  kept but not sampled (no known retrieved product): {unsampled:,}")
    lines.append(f"  samples: {summary['samples']:,}")
    for category, c in summary["by_category"].items():
        lines.append(f"    {category:<20} sampled {c['sampled']:>6,} of {c['population']:>8,} "
                     f"(weight {c['population'] / c['sampled']:.2f})")
    return "\n".join(lines)
