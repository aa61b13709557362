"""Stage 2: find the week's sampled queries whose photo re-uploads an earlier query's photo.

Queries are taken in time order. Each is looked up among earlier weeks' photos and
this week's earlier ones; above the similarity threshold it is a hit and reuses the
matched query's analysis, otherwise it joins the index (only analysed queries are
indexed, so a match always has an analysis to reuse). Publishes ``cache_hits`` and
the updated index; reports the hit rate and, on generated logs, precision and recall
against the planted near-duplicates.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from jobs.analyse.features import query_features_key, query_photo_row, rules_palette
from jobs.common.images import image_policy, load_rgb_all
from jobs.cache.features import DIM, image_feature, similarity, tolerances
from jobs.cache.index import ImageIndex, cache_folder
from core.parallel import map_chunks
from core.progress import Progress
from jobs.common import fs
from jobs.common.storage import (default_run_id, query_photos_path, read_table, record_stage, stage_run,
                                  write_table)
from schemas.arrow import to_arrow
from schemas.tables import CacheHit, StageRecord

log = logging.getLogger("intentmine")


CHUNK = 256  # photos per task of a worker process


def features_of(queries: list[dict], logs: Path, settings, photo_rows: list[dict] | None = None) -> np.ndarray:
    """The cache feature of every query photo, in the given order (``cache.workers`` processes).

    Each photo is decoded once; when ``photo_rows`` is a list, the analyst's query-photo
    features and the ink the printed brand is read from
    (:func:`jobs.analyse.features.query_photo_row`) are measured from the same decode and
    appended to it, so the analyse stage does not decode the photo again.
    """
    progress = Progress("cache features", total=len(queries), unit="images")
    measured = map_chunks(_features_chunk, queries, CHUNK, settings.cache.workers, _start_worker,
                          (logs, settings, photo_rows is not None), progress)
    progress.close()
    out = np.zeros((len(queries), DIM), np.float32)
    for i, (vector, row) in enumerate(measured):
        out[i] = vector
        if photo_rows is not None:
            photo_rows.append(row)
    return out


_WORKER: dict = {}


def _start_worker(logs: Path, settings, with_rows: bool) -> None:
    _WORKER.update(policy=image_policy(logs, settings), palette=rules_palette(settings), cache=settings.cache,
                   tolerances=tolerances(settings.cache), side=settings.models.feature_max_side,
                   with_rows=with_rows)


def _features_chunk(queries: list[dict]) -> list[tuple[np.ndarray, dict | None]]:
    w, c = _WORKER, _WORKER["cache"]
    out = []
    photos = load_rgb_all(w["policy"], [q["image_uri"] for q in queries], 1 << 30,  # decoded once, not shrunk
                          [f"query {q['query_id']}" for q in queries])
    for q, full in zip(queries, photos):
        vector = image_feature(np.asarray(_shrunk(full, c.feature_side)), w["tolerances"])
        row = None
        if w["with_rows"]:
            small = np.asarray(_shrunk(full, w["side"]))
            row = {"image_uri": q["image_uri"], **query_photo_row(small, w["palette"])}
        out.append((vector, row))
    return out


def _shrunk(img, side: int):
    """``img`` with its longest side at most ``side`` (as :func:`load_rgb` shrinks it)."""
    if max(img.size) <= side:
        return img
    img = img.copy()
    img.thumbnail((side, side))
    return img


def write_query_photos(root: Path | str, week: str, rows: list[dict], settings) -> Path | str:
    """The analyst's query-photo features of the week, keyed by palette and size, for the analyse stage."""
    import pyarrow as pa

    palette = rules_palette(settings)
    key = query_features_key(palette, settings.models.feature_max_side)
    table = pa.Table.from_pylist(rows) if rows else pa.table({"image_uri": pa.array([], pa.string())})
    return fs.write_parquet(query_photos_path(root, week), table.replace_schema_metadata({"key": key}))


def match(queries: list[dict], vectors: np.ndarray, index: ImageIndex, week: str,
          threshold: float, run_id: str, neighbours: int = 16) -> list[dict]:
    """Hits, in time order; misses are added to ``index``.

    Two batched searches instead of one lookup per query: every query against the
    earlier weeks, and every query against this week's photos (``neighbours`` nearest).
    Then one pass in time order picks, per query, the most similar earlier match among
    the earlier weeks and this week's earlier *misses* (only analysed queries can be
    reused). A query with more than ``neighbours`` closer look-alikes this week may
    miss a match; with near-duplicates rare that does not happen in practice.
    """
    n = len(queries)
    if n == 0:
        return []
    prev_d, prev_i = index.search(vectors) if len(index) else (np.full((n, 1), np.inf), np.full((n, 1), -1))
    own = ImageIndex(index.kind, index.hnsw_m)
    own.add(vectors, [q["query_id"] for q in queries], week)
    own_d, own_i = own.search(vectors, min(neighbours, n))
    missed = np.zeros(n, bool)
    hits = []
    for i, q in enumerate(queries):
        best_d, source = float(prev_d[i, 0]), ("prev", int(prev_i[i, 0]))
        for d, j in zip(own_d[i], own_i[i]):
            if 0 <= j < i and missed[j]:
                if d < best_d:
                    best_d, source = float(d), ("own", int(j))
                break  # neighbours come nearest first
        sim = float(similarity(best_d)) if np.isfinite(best_d) else 0.0
        if sim > threshold:
            matched, matched_week = ((index.query_ids[source[1]], index.weeks[source[1]]) if source[0] == "prev"
                                     else (queries[source[1]]["query_id"], week))
            hits.append({"query_id": q["query_id"], "matched_query_id": matched, "matched_week": matched_week,
                         "similarity": sim, "run_id": run_id})
        else:
            missed[i] = True
    index.add(vectors[missed], [q["query_id"] for q, m in zip(queries, missed) if m], week)
    return hits


def truth_scores(logs: Path, hits: list[dict], queries: list[dict], known: set[str]) -> dict[str, float]:
    """Precision and recall against ``ground_truth.near_duplicate_of`` (generated logs only)."""
    folder = Path(logs) / "ground_truth"
    if not folder.is_dir():
        return {}
    import pyarrow.dataset as ds

    truth = ds.dataset(folder, format="parquet").to_table(columns=["query_id", "near_duplicate_of"])
    source = {q: s for q, s in zip(*(truth.column(c).to_pylist() for c in truth.column_names)) if s}
    root = lambda q: source.get(q, q)  # noqa: E731 - sources of sources are the original photo
    seen, positives = {root(k) for k in known}, 0
    for q in queries:  # a query counts when any earlier photo (indexed or this week) shares its original
        qid = q["query_id"]
        positives += root(qid) in seen
        seen.add(root(qid))
    correct = sum(root(h["query_id"]) == root(h["matched_query_id"]) for h in hits)
    return {"precision": correct / len(hits) if hits else 1.0,
            "recall": correct / positives if positives else 1.0, "planted": float(positives)}


@stage_run(shared=("cache",))
def run_cache(logs: Path, root: Path, week: str, settings) -> dict:
    """The pipeline stage: publish the week's cache hits and the updated image index."""
    started, began = datetime.now(timezone.utc), time.perf_counter()
    run_id = default_run_id(week, settings)
    queries = read_table(root, "samples", week, columns=["query_id", "ts", "image_uri"]).to_pylist()
    queries.sort(key=lambda q: (q["ts"], q["query_id"]))
    folder = cache_folder(root)
    c = settings.cache
    divisors = tolerances(c)
    stored = ImageIndex.load(folder, c.index, c.hnsw_m, divisors)  # fails early on another feature
    photo_rows: list[dict] = []
    vectors = features_of(queries, Path(logs), settings, photo_rows)
    write_query_photos(root, week, photo_rows, settings)
    index = stored.subset(lambda w: w < week)
    known = set(index.query_ids)
    hits = match(queries, vectors, index, week, c.similarity_threshold, run_id)
    write_table(root, "cache_hits", week, run_id, to_arrow(CacheHit, hits))
    kept = stored.subset(lambda w: w != week)
    mine = index.subset(lambda w: w == week)
    kept.add(mine.vectors(), mine.query_ids, week)
    kept.save(folder, divisors)
    metrics = {"queries": float(len(queries)), "hits": float(len(hits)),
               "hit_rate": len(hits) / len(queries) if queries else 0.0, "indexed": float(len(kept))}
    metrics.update(truth_scores(logs, hits, queries, known))
    record_stage(root, week, run_id, settings, StageRecord(
        stage="cache", started=started, seconds=round(time.perf_counter() - began, 3),
        tables={"cache_hits": len(hits)}, metrics=metrics))
    log.info("cache: %d of %d queries hit (%.1f %%)", len(hits), len(queries), 100 * metrics["hit_rate"])
    return {"queries": len(queries), "hits": len(hits), "hit_rate": round(metrics["hit_rate"], 3),
            **({k: round(metrics[k], 3) for k in ("precision", "recall") if k in metrics})}
