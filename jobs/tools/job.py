"""Stage 7, ``intentmine tools``: read the week's clusters and signals, publish the tool
list, the training samples, their SFT export and (when clustering did not) the tree.

Order of writes: the immutable tool-list version, the tables, the export, then the
registry last; a failure before the registry is saved leaves it untouched, and a
rerun computes the same ids, indices and version again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pyarrow as pa

from jobs.common.errors import InputError
from jobs.common.settings import Settings
from jobs.common.storage import (default_run_id, iso_week, latest_run, read_manifest, read_table,
                                 record_stage, week_bounds, write_table)
from jobs.review.decisions import read_all
from jobs.tools import registry as reg
from jobs.tools.build import tool_rows, tool_support, week_groups
from jobs.tools.groups import cluster_nodes, labelled_signals
from jobs.tools.ontology import next_ontology
from jobs.tools.support import strata_from_samples
from jobs.tools.training import export_jsonl, training_samples
from jobs.tools.versions import assign_version, publish_version
from schemas.tables import StageRecord

log = logging.getLogger("intentmine")


def optional_table(root: Path, table: str, week: str, columns: list[str] | None = None) -> pa.Table | None:
    """The latest complete run of a table, or None when there is none."""
    if latest_run(root, table, week) is None:
        return None
    return read_table(root, table, week, columns=columns)


def previous_week(week: str) -> str:
    return iso_week(week_bounds(week)[0].date() - dt.timedelta(days=7))


def export_path(root: Path, week: str, run_id: str) -> Path:
    return Path(root) / "exports" / "sft" / f"week={week}" / f"run={run_id}" / "training_samples.jsonl"


def apply_pending(registry: dict, decisions: list[dict]) -> tuple[int, int]:
    """Apply recorded decisions not applied yet, oldest first; (applied, skipped)."""
    done = set(registry["applied_decisions"]) | set(registry["skipped_decisions"])
    applied = skipped = 0
    for decision in decisions:
        if decision["decision_id"] in done:
            continue
        try:
            reg.apply_decision(registry, decision)
            registry["applied_decisions"].append(decision["decision_id"])
            applied += 1
        except InputError as exc:
            registry["skipped_decisions"][decision["decision_id"]] = str(exc)
            log.warning("review decision %s skipped: %s", decision["decision_id"], exc)
            skipped += 1
    return applied, skipped


def clustering_wrote_tree(root: Path, week: str) -> bool:
    """Whether the clustering stage published ``clusters`` itself (its manifest says so)."""
    run = latest_run(root, "assignments", week)
    manifest = read_manifest(root, week, run) if run else None
    return bool(manifest) and any("clusters" in s.tables and s.stage != "tools" for s in manifest.stages)


def run_tools(logs: Path, root: Path, week: str, settings: Settings) -> dict:
    """Build and publish the week's tools and training data; return counts for the summary."""
    began, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    root, cfg, run_id = Path(root), settings.tools, default_run_id(week, settings)
    rows = labelled_signals(read_table(root, "assignments", week), read_table(root, "signals", week),
                            cfg.include_other)
    samples = optional_table(root, "samples", week)
    registry = reg.load(root)
    applied, skipped = apply_pending(registry, read_all(root))
    groups = week_groups(rows)
    before = set(registry["tools"])
    rows["tool_id"] = rows["group_key"].map(reg.observe(registry, groups, week, cfg.min_aux_size))
    retired = reg.retire_absent(registry, week, cfg.retire_after_weeks)
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
    if not clustering_wrote_tree(root, week):
        prev_nodes = optional_table(root, "clusters", previous_week(week))
        nodes = cluster_nodes(rows, week, run_id, cfg.examples_per_tool,
                              prev_nodes.to_pandas() if prev_nodes is not None else None)
        write_table(root, "clusters", week, run_id, nodes)
        tables["clusters"] = nodes.num_rows
    export_jsonl(training, registry, export_path(root, week, run_id), cfg.sft_catalogue)
    ontology = next_ontology(root, registry, tools, cfg.ontology, cfg.promoted_category)
    reg.save(root, registry)
    counts = {"tools": tools.num_rows, "new_tools": len(set(registry["tools"]) - before),
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
