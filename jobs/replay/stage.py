"""Stage 7b, replay: run each sampled query's predicted tools offline, and score before and after.

Reads the week's ``samples``, ``training_samples`` and ``tools`` (the plans: each
query's tools in the reasoner's order with their Info) and, from the logs when they
are given, the catalogue (``products/``) and the generator's ``ground_truth/``.
Without the catalogue, conditions are met from the products the week's results
showed; without ground truth, relevance is left null and the tables say only what
changed. Publishes ``replay`` (one row per sampled query) and ``replay_tools``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core.errors import InputError
from jobs.common.settings import Settings
from jobs.common.storage import (default_run_id, optional_table, read_log_table, read_table, record_stage, stage_run,
                                 write_table)
from jobs.replay.catalogue import Catalogue
from jobs.replay.judge import intents
from jobs.replay.replay import catalogue_from_samples, plans_from_training, rates, replay, tool_summary
from schemas.tables import StageRecord

log = logging.getLogger("intentmine")


def load_catalogue(logs: Path | None, samples: pa.Table) -> tuple[Catalogue, str]:
    """The logs' product catalogue, else the products seen in the week's results."""
    if logs is not None and (Path(logs) / "products").is_dir():
        return Catalogue(read_log_table(logs, "products").to_pandas()), "logs"
    return Catalogue(catalogue_from_samples(samples)), "results"


def load_truth(logs: Path | None) -> pd.DataFrame | None:
    """The generator's ground truth, when the logs have it (real logs do not)."""
    if logs is None or not (Path(logs) / "ground_truth").is_dir():
        return None
    return read_log_table(logs, "ground_truth").to_pandas()


def replay_tables(samples: pa.Table, training: pa.Table | None, tools: pa.Table | None, catalogue: Catalogue,
                  truth: pd.DataFrame | None, run_id: str, limit: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``replay`` and ``replay_tools`` rows (plans first, ground truth only to score)."""
    plans = plans_from_training(training, tools) if training is not None and tools is not None else {}
    queries, steps = replay(samples, plans, catalogue, intents(truth) if truth is not None else None, limit)
    scenario = truth.set_index("query_id")["scenario"] if truth is not None else pd.Series(dtype=object)
    versions = training.select(["query_id", "list_version"]).to_pandas().set_index("query_id")["list_version"] \
        if training is not None else pd.Series(dtype="int64")
    queries["scenario"] = queries["query_id"].map(scenario).astype(object).where(lambda s: s.notna(), None)
    queries["list_version"] = pd.array(queries["query_id"].map(versions), dtype="Int64")
    queries["run_id"] = run_id
    summary = tool_summary(queries, steps).assign(run_id=run_id)
    summary["index"] = pd.array(summary["index"], dtype="Int64")
    return queries, summary


@stage_run()
def run_replay(logs: Path | None, root: Path, week: str, settings: Settings) -> dict:
    """Replay the week's plans and publish ``replay`` and ``replay_tools``; return the figures."""
    began, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    root, run_id = Path(root), default_run_id(week, settings)
    if logs is not None and not Path(logs).is_dir():
        raise InputError(f"--logs {logs}: not a folder")
    samples = read_table(root, "samples", week)
    training, tools = optional_table(root, "training_samples", week), optional_table(root, "tools", week)
    catalogue, source = load_catalogue(logs, samples)
    truth = load_truth(logs)
    queries, summary = replay_tables(samples, training, tools, catalogue, truth, run_id,
                                     settings.sample.max_products)
    write_table(root, "replay", week, run_id, pa.Table.from_pandas(queries, preserve_index=False))
    write_table(root, "replay_tools", week, run_id, pa.Table.from_pandas(summary, preserve_index=False))
    figures = rates(queries)
    counts = {**figures, "asks_shopper": int(queries["asks_shopper"].sum()) if len(queries) else 0,
              "tools": len(summary), "catalogue": source}
    record_stage(root, week, run_id, settings, StageRecord(
        stage="replay", started=started, seconds=round(time.perf_counter() - began, 3),
        tables={"replay": len(queries), "replay_tools": len(summary)},
        metrics={k: float(v) for k, v in counts.items() if isinstance(v, (int, float)) and v is not None}),
        inputs={"catalogue": source, "ground_truth": "logs" if truth is not None else "none"})
    log.info("replay: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
