"""Versioned, atomically published Parquet tables and run manifests.

Layout (every ``<root>/...`` path is spelled here and nowhere else)::

    <root>/<table>/week=2026-W47/run=<run_id>/part-00000.parquet   (+ _SUCCESS)
    <root>/<table>/week=2026-W47/_LATEST                           (run id of the newest complete run)
    <root>/_manifests/week=2026-W47/run=<run_id>.json
    <root>/_staging/...   where runs are written before they are published
    <root>/_registry/     ontology series, tool registry, tool lists (owned by jobs.registry)
    <root>/_cache/<name>/ state kept across weeks (image index, embeddings)
    <root>/_checkpoints/<stage>/week=W.sqlite   model answers, so a rerun never asks twice
    <root>/reports/week=W/run=R/report.html, <root>/exports/sft/week=W/run=R/training_samples.jsonl

A run is written aside and moved into place with one rename, so readers never see
half a run; a rerun of the same run id replaces the old directory whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from core.errors import InputError
from core.files import write_text
from schemas.arrow import validate
from schemas.tables import RunManifest, StageRecord, model_for

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
SUCCESS = "_SUCCESS"
LATEST = "_LATEST"


# ---------------------------------------------------------------- weeks
def iso_week(moment: dt.date | dt.datetime) -> str:
    """The ISO week label (``2026-W47``) of a date or a UTC datetime."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment
        moment = moment.date()
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[dt.datetime, dt.datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC) of an ISO week label."""
    match = WEEK_RE.match(week or "")
    if not match:
        raise InputError(f"--week '{week}': expected an ISO week like 2026-W47")
    year, number = int(match[1]), int(match[2])
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InputError(f"--week '{week}': year {year} has no week {number}") from None
    start = dt.datetime.combine(monday, dt.time(), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=7)


# ---------------------------------------------------------------- run identity
@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit of the working tree, when there is one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("intentmine")
    except PackageNotFoundError:
        base = "0+unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        return f"{base}+g{sha}" if sha else base
    except (OSError, subprocess.SubprocessError):
        return base


def default_run_id(week: str, settings) -> str:
    """Deterministic run id: the same week and settings always give the same run."""
    if settings.run_id:
        return settings.run_id
    week_bounds(week)
    return f"{week}-{settings.digest()[:10]}"


# ---------------------------------------------------------------- paths
def week_dir(root: Path | str, table: str, week: str) -> Path:
    return Path(root) / table / f"week={week}"


def table_dir(root: Path | str, table: str, week: str, run_id: str) -> Path:
    return week_dir(root, table, week) / f"run={run_id}"


def registry_dir(root: Path | str) -> Path:
    return Path(root) / "_registry"


def cache_dir(root: Path | str, name: str) -> Path:
    """State a stage keeps across weeks (``images``: the near-duplicate index; ``embeddings``)."""
    return Path(root) / "_cache" / name


def checkpoint_path(root: Path | str, stage: str, week: str) -> Path:
    return Path(root) / "_checkpoints" / stage / f"week={week}.sqlite"


def report_path(root: Path | str, week: str, run_id: str) -> Path:
    return Path(root) / "reports" / f"week={week}" / f"run={run_id}" / "report.html"


def export_path(root: Path | str, week: str, run_id: str) -> Path:
    return Path(root) / "exports" / "sft" / f"week={week}" / f"run={run_id}" / "training_samples.jsonl"


def latest_run(root: Path | str, table: str, week: str) -> str | None:
    """Run id of the newest complete run of ``table`` for ``week``, or None."""
    pointer = week_dir(root, table, week) / LATEST
    if pointer.exists():
        run_id = pointer.read_text().strip()
        if (table_dir(root, table, week, run_id) / SUCCESS).exists():
            return run_id
    complete = [p for p in week_dir(root, table, week).glob("run=*") if (p / SUCCESS).exists()]
    if not complete:
        return None
    newest = max(complete, key=lambda p: (p / SUCCESS).stat().st_mtime)
    return newest.name.removeprefix("run=")


# ---------------------------------------------------------------- publish
@contextlib.contextmanager
def publishing(root: Path | str, table: str, week: str, run_id: str) -> Iterator[Path]:
    """Yield a staging folder; on success move it into place whole, else delete it.

    Works for any writer that fills a folder (pyarrow, Spark's ``df.write``).
    """
    root = Path(root)
    week_bounds(week)
    model_for(table)
    staging = root / "_staging" / f"{table}.{week}.{run_id}.{uuid.uuid4().hex}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
        staging.mkdir(parents=True, exist_ok=True)
        (staging / SUCCESS).touch()
        final = table_dir(root, table, week, run_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        trash = None
        if final.exists():
            trash = root / "_trash" / uuid.uuid4().hex
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(final, trash)
        os.rename(staging, final)
        write_text(week_dir(root, table, week) / LATEST, run_id)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def write_table(root: Path | str, table: str, week: str, run_id: str, data: pa.Table,
                row_group_size: int = 1_000_000) -> Path:
    """Validate ``data`` against the table's model and publish it as run ``run_id``."""
    data = validate(model_for(table), data, table, source="output")
    with publishing(root, table, week, run_id) as staging:
        staging.mkdir(parents=True)
        pq.write_table(data, staging / "part-00000.parquet", row_group_size=row_group_size,
                       compression="zstd")
    return table_dir(root, table, week, run_id)


def optional_table(root: Path | str, table: str, week: str, columns: list[str] | None = None) -> pa.Table | None:
    """The latest complete run of a table, or None when there is none."""
    if latest_run(root, table, week) is None:
        return None
    return read_table(root, table, week, columns=columns)


def previous_week(week: str) -> str:
    """The ISO week before ``week``."""
    return iso_week(week_bounds(week)[0].date() - dt.timedelta(days=7))


def read_table(root: Path | str, table: str, week: str, run_id: str | None = None,
               columns: list[str] | None = None) -> pa.Table:
    """Read one published run (the latest complete one by default), validated."""
    run_id = run_id or latest_run(root, table, week)
    if run_id is None:
        raise InputError(f"table {table}: no complete run for week {week} under {Path(root)}")
    folder = table_dir(root, table, week, run_id)
    if not (folder / SUCCESS).exists():
        raise InputError(f"table {table}: run {run_id} of week {week} is not complete ({folder})")
    data = ds.dataset(folder, format="parquet", exclude_invalid_files=True).to_table()
    data = validate(model_for(table), data, table, source=str(folder))
    return data.select(columns) if columns else data


# ---------------------------------------------------------------- manifests
def manifest_path(root: Path | str, week: str, run_id: str) -> Path:
    return Path(root) / "_manifests" / f"week={week}" / f"run={run_id}.json"


def read_manifest(root: Path | str, week: str, run_id: str) -> RunManifest | None:
    path = manifest_path(root, week, run_id)
    if not path.exists():
        return None
    return RunManifest.model_validate_json(path.read_text())


def record_stage(root: Path | str, week: str, run_id: str, settings, record: StageRecord,
                 inputs: dict[str, str] | None = None, models: dict[str, str] | None = None,
                 prompts: dict[str, str] | None = None) -> RunManifest:
    """Add (or replace) one stage's entry in the run's manifest, atomically."""
    manifest = read_manifest(root, week, run_id) or RunManifest(
        run_id=run_id, week=week, settings_hash=settings.digest(), code_version=code_version(),
        inputs={}, models={}, prompts={}, stages=[],
    )
    manifest.settings_hash = settings.digest()
    manifest.code_version = code_version()
    manifest.inputs.update(inputs or {})
    manifest.models.update(models or {})
    manifest.prompts.update(prompts or {})
    manifest.stages = [s for s in manifest.stages if s.stage != record.stage] + [record]
    write_text(manifest_path(root, week, run_id), manifest.model_dump_json(indent=2))
    return manifest


# ---------------------------------------------------------------- raw logs
def read_log_table(logs: Path | str, table: str) -> pa.Table:
    """Read one raw log table (``<logs>/<table>/``, Hive-partitioned or flat), validated."""
    folder = Path(logs) / table
    if not folder.is_dir():
        raise InputError(f"logs {Path(logs)}: table folder '{table}/' is missing")
    try:
        dataset = ds.dataset(folder, format="parquet", partitioning="hive",
                             exclude_invalid_files=False, ignore_prefixes=[".", "_"])
        data = dataset.to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"logs table {table} ({folder}): unreadable Parquet ({exc})") from None
    return validate(model_for(table), data, table, source=str(folder))
