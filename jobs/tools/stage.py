"""Stage 7, tools: read the week's assignments and signals, publish the tool list, the
training samples and their SFT export.

Order of writes: the immutable tool-list version, the tables, the export, then the
registry last; a failure before the registry is saved leaves it untouched, and a
rerun computes the same ids, indices and version again. A week starts from the registry as
the newest earlier week left it (:func:`jobs.registry.tools.load_for_week`), so rerunning an
old week after later ones gives its first outputs again and leaves the later weeks' state
alone. Review decisions filed under weeks up to this one are replayed onto it first
(:func:`jobs.registry.reviews.apply_pending`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pyarrow as pa

from jobs.common.settings import Settings
from jobs.common.storage import (default_run_id, export_path, optional_table, previous_week, read_table,
                                 record_stage, stage_run, write_table)
from jobs.registry import reviews
from jobs.registry import tools as reg
from jobs.registry.tool_lists import assign_version, publish_version
from jobs.tools.build import tool_rows, tool_support, week_groups
from jobs.tools.groups import labelled_signals
from jobs.tools.ontology import next_ontology
from jobs.tools.support import strata_from_samples
from jobs.tools.training import export_jsonl, training_samples
from schemas.tables import StageRecord

log = logging.getLogger("intentmine")


@stage_run(shared=("registry",))
def run_tools(logs: Path, root: Path, week: str, settings: Settings) -> dict:
    """Build and publish the week's tools and training data; return counts for the summary."""
    began, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    root, cfg, run_id = Path(root), settings.tools, default_run_id(week, settings)
    rows = labelled_signals(read_table(root, "assignments", week), read_table(root, "signals", week),
                            cfg.include_other)
    samples = optional_table(root, "samples", week)
    registry = reg.load_for_week(root, week)
    retired_before = {t.tool_id for t in registry.tools.values() if t.status == "retired"}
    decisions = reviews.read_all(root, through=week)
    applied, skipped = reviews.apply_pending(registry, decisions, defer_unknown=True)
    groups = week_groups(rows)
    before = set(registry.tools)
    observed = reg.observe(registry, groups, week, cfg.min_aux_size)
    later = reviews.apply_pending(registry, decisions)  # about tools this week registered
    applied, skipped = applied + later[0], skipped + later[1]
    rows["tool_id"] = rows["group_key"].map({key: reg.resolve(registry, key) for key in observed})
    reg.retire_absent(registry, week, cfg.retire_after_weeks)
    retired = {t.tool_id for t in registry.tools.values() if t.status == "retired"} - retired_before  # merges too
    strata_input = samples.select(["query_id", "main_category", "category_population"]).to_pandas() \
        if samples is not None else None
    membership, strata = strata_from_samples(strata_input, rows["query_id"])
    support = tool_support(rows, membership, strata, cfg.examples_per_tool, cfg.confidence)
    previous = optional_table(root, "tools", previous_week(week))
    tools = tool_rows(registry, support, previous.to_pandas() if previous is not None else None, run_id)
    version, is_new = assign_version(root, tools)
    tools = tools.set_column(tools.column_names.index("list_version"), "list_version",
                             pa.array([version] * tools.num_rows, pa.int64()))
    training = training_samples(rows, registry, samples, version, run_id, cfg.max_reasoning_chars,
                                cfg.max_products_in_prompt)
    publish_version(root, version, tools, week, run_id)
    write_table(root, "tools", week, run_id, tools)
    write_table(root, "training_samples", week, run_id, training)
    tables = {"tools": tools.num_rows, "training_samples": training.num_rows}
    export_jsonl(training, registry, export_path(root, week, run_id), cfg.sft_catalogue)
    ontology = next_ontology(root, registry, tools, cfg.ontology, cfg.promoted_category)
    reg.save_for_week(root, week, registry)
    counts = {"tools": tools.num_rows, "new_tools": len(set(registry.tools) - before),
              "retired": len(retired), "decisions_applied": applied, "decisions_skipped": skipped,
              "list_version": version, "training_samples": training.num_rows,
              "signals_without_tool_share": round(float(rows["tool_id"].isna().mean()) if len(rows) else 0.0, 4)}
    record_stage(root, week, run_id, settings, StageRecord(
        stage="tools", started=started, seconds=round(time.perf_counter() - began, 3), tables=tables,
        metrics={k: float(v) for k, v in counts.items()} | {"new_list_version": float(is_new)}))
    log.info("tools: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    if ontology is not None:
        counts["ontology"] = str(ontology)
    return counts
