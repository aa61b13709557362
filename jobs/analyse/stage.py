"""Stages 3-4 as one job: samples -> ``analyses`` (VLM and LLM rows) and ``signals``.

Steps: read the week's samples and cache hits; analyse the queries the cache did not
cover (``rules`` analyst, or vLLM servers through the async client); reuse the
matched query's analysis for each hit; publish both tables and the stage record.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from jobs.analyse.results import POLICY_FAILED, QueryResult, analysis_rows, checked, no_finding, result_from_rows, signal_rows
from core.errors import InputError
from core.progress import Progress
from jobs.analyse.rules_runner import SampleTable, analyse_samples, plain_samples, product_colour_table
from jobs.common import fs
from jobs.common.storage import (default_run_id, latest_run, query_photos_path, read_table, record_stage, stage_run,
                                  write_table)
from schemas.arrow import to_arrow
from schemas.tables import Analysis, Signal, StageRecord

log = logging.getLogger("intentmine")


def cache_hits(root: Path, week: str) -> dict[str, tuple[str, str]]:
    """query_id -> (matched query id, matched week), or empty when the cache stage has not run."""
    if latest_run(root, "cache_hits", week) is None:
        log.warning("analyse: no cache_hits for week %s; analysing every sampled query", week)
        return {}
    rows = read_table(root, "cache_hits", week).to_pylist()
    return {r["query_id"]: (r["matched_query_id"], r["matched_week"]) for r in rows}


def query_photo_table(root: Path, week: str, settings) -> dict[str, dict]:
    """image_uri -> the cache stage's query-photo features, when measured with this run's palette
    and feature size (else empty: the analyst measures them itself)."""
    from jobs.analyse.expert_rules import load_rules
    from jobs.analyse.features import Palette, query_features_key

    table = fs.read_parquet(query_photos_path(root, week))
    if table is None:
        return {}
    palette = Palette(load_rules(settings.models.rules_file or None).colour_names)
    if (table.schema.metadata or {}).get(b"key", b"").decode() != query_features_key(
            palette, settings.models.feature_max_side):
        log.info("analyse: query-photo features of the cache stage were measured otherwise; measuring again")
        return {}
    return {r.pop("image_uri"): r for r in table.to_pylist()}


def split_hits(table, hits: dict):
    """The samples table split in two, in its order: (to analyse, answered by the cache)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    answered = pc.is_in(table.column("query_id"), value_set=pa.array(list(hits), table.schema.field("query_id").type))
    return table.filter(pc.invert(answered)), table.filter(answered)


def analyse_rules(todo: SampleTable, logs: Path, root: Path, week: str, settings) -> tuple[list, list]:
    """The ``rules`` backend over the samples the cache did not answer, streamed as Arrow.

    What the whole week shares is read column by column first (the usual prices, the brand
    names, the distinct product photos, whose colours are then measured once each). The
    samples then go to ``models.workers`` processes in chunks of Arrow rows with their query
    photos' features (:class:`SampleTable`): a worker turns its chunk into Python rows,
    analyses it and checks every answer against its own sample, so the calling process never
    holds these samples as Python rows. Returns (results as the analyst gave them, for reuse;
    the same results checked).
    """
    from jobs.analyse.features import WeekReferences

    references = WeekReferences()
    references.add_table(todo.table)
    colours = product_colour_table(references.product_photos(), logs, settings)  # once per product
    progress = Progress("analyse (rules)", total=len(todo), unit="queries")
    pairs = analyse_samples(todo, logs, settings, references.prices(), colours, references.brands(), progress)
    progress.close()
    return [result for result, _ in pairs], [checked for _, checked in pairs]


def reuse_hits(hits: dict[str, tuple[str, str]], by_id: dict[str, dict], fresh: dict[str, QueryResult],
               root: Path, week: str) -> list[QueryResult]:
    """For each hit, the matched query's result marked ``cached`` (earlier weeks read from disk)."""
    earlier: dict[str, dict[str, list[dict]]] = {}
    out = []
    for query_id, (matched, matched_week) in sorted(hits.items()):
        if query_id not in by_id:
            continue
        sample = by_id[query_id]
        if matched in fresh:
            out.append(fresh[matched].as_cached(query_id, sample["main_category"]))
            continue
        if matched_week not in earlier:
            earlier[matched_week] = _analyses_of(root, matched_week)
        rows = earlier[matched_week].get(matched)
        if rows is None:
            raise InputError(f"cache hit {query_id}: matched query {matched} has no analysis in week "
                             f"{matched_week}; rerun analyse for that week or rebuild the cache")
        out.append(result_from_rows(query_id, sample["main_category"], rows).as_cached(
            query_id, sample["main_category"]))
    return out


def _analyses_of(root: Path, week: str) -> dict[str, list[dict]]:
    if latest_run(root, "analyses", week) is None:
        return {}
    grouped: dict[str, list[dict]] = {}
    for row in read_table(root, "analyses", week).to_pylist():
        grouped.setdefault(row["query_id"], []).append(row)
    return grouped


@stage_run()
def run_analyse(logs: Path, root: Path, week: str, settings) -> dict:
    """The pipeline stage: analyse the week's samples and publish analyses and signals."""
    started, began = datetime.now(timezone.utc), time.perf_counter()
    run_id = default_run_id(week, settings)
    table = read_table(root, "samples", week)
    hits = cache_hits(root, week)
    backend = settings.models.backend
    metrics: dict[str, float] = {}
    if backend not in ("rules", "vllm"):
        raise InputError(f"--backend '{backend}': expected rules or vllm")
    todo_table, answered = split_hits(table, hits)
    photos = query_photo_table(Path(root), week, settings) if backend == "rules" else {}
    todo = SampleTable(todo_table, photos)
    photos_joined = sum(uri in photos for uri in todo_table.column("image_uri").to_pylist())
    by_id = {s["query_id"]: s for s in plain_samples(answered)}  # the cache hits' samples
    if backend == "rules" and settings.models.partitions == 0:  # streamed: Arrow rows to the workers
        results, fresh_checked = analyse_rules(todo, Path(logs), Path(root), week, settings)
    else:
        todo = todo.rows()
        by_id.update((s["query_id"], s) for s in todo)
        if settings.models.partitions > 0:
            from jobs.analyse.distributed import analyse_on_spark

            results = analyse_on_spark(todo, Path(logs), settings, Path(root), week)
        else:
            from jobs.analyse.vllm_runner import analyse_vllm

            results, metrics = analyse_vllm(todo, Path(logs), Path(root), week, settings)
        fresh_checked = [checked(r, by_id.get(r.query_id)) for r in results]  # + policy
    analysed = len(results)
    reused = reuse_hits(hits, by_id, {r.query_id: r for r in results}, Path(root), week)
    results = sorted(fresh_checked + [checked(r, by_id.get(r.query_id)) for r in reused],
                     key=lambda r: r.query_id)
    analyses = [row for r in results for row in analysis_rows(r, run_id)]
    signals = [row for r in results for row in signal_rows(r, run_id)]
    write_table(root, "analyses", week, run_id, to_arrow(Analysis, analyses))
    write_table(root, "signals", week, run_id, to_arrow(Signal, signals))
    status = Counter(f"{a['stage']}_{a['status']}" for a in analyses)
    counts = {"samples": table.num_rows, "analysed": analysed, "cached": len(results) - analysed,
              "signals": len(signals), "failed": status["vlm_failed"] + status["llm_failed"],
              "no_rule": sum(no_finding(r) for r in results),
              "policy_failed": sum(POLICY_FAILED in (a["error"] or "") for a in analyses)}
    metrics.update({k: float(v) for k, v in counts.items()}, query_photos_from_cache=float(photos_joined))
    record_stage(root, week, run_id, settings, StageRecord(
        stage="analyse", started=started, seconds=round(time.perf_counter() - began, 3),
        tables={"analyses": len(analyses), "signals": len(signals)}, metrics=metrics),
        models=_models(settings, results), prompts=_prompts(results))
    return counts


def _models(settings, results: list[QueryResult]) -> dict[str, str]:
    names = {f"analyse.{s}": getattr(r, s).model for r in results[:1] for s in ("vlm", "llm")}
    return names or {"analyse.backend": settings.models.backend}


def _prompts(results: list[QueryResult]) -> dict[str, str]:
    from prompts.loader import load_prompt

    out = {}
    for name in ("vlm_analysis", "llm_reasoning"):
        template = load_prompt(name)
        out[template.key] = template.digest()
    return out
