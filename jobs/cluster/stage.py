"""Stage 6, cluster: assign a week's signals (or an actions file) to the ontology, two levels,
cluster the rest, and publish the assignments and the cluster tree.

Each entry point is a thin read → transform → write around :mod:`clustering`; inputs
are validated (one-line :class:`InputError`) before any model is loaded, and outputs
are written aside and published whole, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from clustering.embeddings import model_name
from clustering.ontology import load_ontology
from clustering.params import MethodConfig, method_config
from clustering.pipeline import ActionClusterer, AuxMemory
from core.errors import InputError
from core.files import atomic_path
from jobs.cluster.map import cluster_map
from jobs.cluster.tree import cluster_nodes
from jobs.common.actions import read_actions
from jobs.common.embedding import make_encoder
from jobs.common.storage import (default_run_id, optional_table, previous_week, read_table, record_stage,
                                 run_commit, stage_run, week_bounds, write_table)
from jobs.common.storage import weeks as storage_weeks
from jobs.ontology.stage import ontology_for_week
from jobs.registry import ontology as series
from schemas.tables import StageRecord

log = logging.getLogger("intentmine")

OUTPUT_SCHEMA = pa.schema([
    ("action", pa.string()), ("main_category", pa.string()), ("subcategory", pa.string()),
    ("aux_cluster", pa.int64()), ("main_score", pa.float64()), ("sub_score", pa.float64()),
])


@stage_run()
def run_cluster(logs: Path, root: Path, week: str, settings) -> dict:
    """The pipeline's stage: cluster the week's signals against the week's ontology version."""
    ontology = ontology_for_week(Path(root), week, settings)
    counts = cluster_week(Path(root), week, ontology, settings)
    return {"ontology": str(ontology), **counts}


def method_from(settings, method: str | None = None) -> MethodConfig:
    """The named preset (default ``cluster.method``) with explicitly set parameters on top."""
    cs = settings.cluster
    name = method or cs.method
    overrides = {k: getattr(cs, k) for k in cs.model_fields_set if k in MethodConfig.model_fields}
    try:
        return method_config(name, **overrides)
    except ValueError as exc:
        raise InputError(f"--method {name}: {exc}") from None


def cluster_file(actions: Path, ontology: Path, out: Path, settings, method: str | None = None) -> dict:
    """``cluster --actions FILE``: one output row per input row, in input order."""
    onto = load_ontology(ontology)
    rows = read_actions(actions)
    config = method_from(settings, method)
    clusterer = ActionClusterer(make_encoder(settings), config, settings.cluster.chunk_size)
    frame = clusterer.run(rows, onto)
    table = pa.Table.from_pandas(frame, schema=OUTPUT_SCHEMA, preserve_index=False)
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return {"out": str(out), **clusterer.counts_, "seconds": round(sum(clusterer.timings_.values()), 2)}


def earlier_aux_members(root: Path, week: str) -> AuxMemory | None:
    """Members of the auxiliary clusters of every earlier week (earliest id per action)."""
    weeks = storage_weeks(root, "assignments")
    frames, next_id = [], 0
    for earlier in (w for w in weeks if w < week):
        try:
            table = read_table(root, "assignments", earlier, columns=["action", "aux_cluster"])
        except InputError:  # a week without a complete run
            continue
        part = table.to_pandas().dropna(subset=["aux_cluster"])
        part = part[part["aux_cluster"] >= 0]
        next_id = max(next_id, int(part["aux_cluster"].max()) + 1) if len(part) else next_id
        frames.append(part.drop_duplicates("action"))
    if not frames:
        return None
    members = pd.concat(frames).drop_duplicates("action", keep="first")
    return AuxMemory(members["action"].tolist(), members["aux_cluster"].to_numpy(np.int64), next_id)


def cluster_week(root: Path, week: str, ontology: Path, settings, method: str | None = None) -> dict:
    """``cluster --root --week``: assign the week's signals, publish assignments and clusters (one commit)."""
    with run_commit(root, week, settings):
        return _cluster_week(root, week, ontology, settings, method)


def _cluster_week(root: Path, week: str, ontology: Path | str, settings, method: str | None = None) -> dict:
    began, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    week_bounds(week)
    onto = series.read(ontology)  # a registry version (any filesystem) or a local file
    signals = read_table(root, "signals", week, columns=["query_id", "order", "action", "info"])
    if signals.num_rows == 0:
        raise InputError(f"table signals, week {week}: no signals to cluster")
    config, run_id = method_from(settings, method), default_run_id(week, settings)
    encoder = make_encoder(settings, root)
    clusterer = ActionClusterer(encoder, config, settings.cluster.chunk_size)
    frame = clusterer.run(signals.column("action").to_pylist(), onto, earlier_aux_members(root, week),
                          signals.column("info").to_pylist())
    frame.insert(0, "query_id", signals.column("query_id").to_pylist())
    frame.insert(1, "order", signals.column("order").to_numpy())
    assignments = frame.assign(method=method or settings.cluster.method,
                               ontology_version=onto.version, run_id=run_id)
    write_table(root, "assignments", week, run_id, pa.Table.from_pandas(assignments, preserve_index=False))
    previous = optional_table(root, "clusters", previous_week(week))
    nodes = cluster_nodes(frame, week, run_id, settings.tools.examples_per_tool,
                          previous.to_pandas() if previous is not None else None)
    write_table(root, "clusters", week, run_id, nodes)
    began_map = time.perf_counter()
    points = cluster_map(frame, clusterer.encoder, run_id)
    write_table(root, "cluster_map", week, run_id, points)
    clusterer.timings_["map"] = time.perf_counter() - began_map
    counts = {**clusterer.counts_, "clusters": nodes.num_rows}
    record_stage(root, week, run_id, settings, StageRecord(
        stage="cluster", started=started, seconds=round(time.perf_counter() - began, 3),
        tables={"assignments": len(frame), "clusters": nodes.num_rows, "cluster_map": points.num_rows},
        metrics={**{k: float(v) for k, v in counts.items()},
                 **{f"seconds_{k}": round(v, 3) for k, v in clusterer.timings_.items()},
                 **{f"embedding_{k}": float(v) for k, v in encoder.precision_report.items()
                    if isinstance(v, (int, float))}},
    ), inputs={"ontology": str(ontology), "ontology_version": str(onto.version)},
        models={"embedding": model_name(settings.cluster.embedding_model),
                "embedding_precision": encoder.precision or "unresolved"})
    return counts
