"""Versioned Parquet tables, run manifests and the week's commit pointer, on any filesystem.

Layout (every ``<root>/...`` path is spelled here and nowhere else; files go through
:mod:`jobs.common.fs`, so ``<root>`` is a local path, ``file://`` or ``s3://``)::

    <root>/<table>/week=2026-W47/run=<run_id>/part-00000.parquet   (+ _SUCCESS)
    <root>/_manifests/week=2026-W47/_COMMITTED.json   the commit pointer: per table its latest run
                                                      and the folder of each committed run
    <root>/_manifests/week=2026-W47/run=<run_id>.json the run's manifest (status, inputs, stages)
    <root>/_locks/week=W.lock, cache.lock, registry.lock   one writer at a time
    <root>/_registry/     ontology series, tool registry, tool lists (owned by jobs.registry)
    <root>/_cache/<name>/ state kept across weeks (image index, embeddings)
    <root>/_checkpoints/<stage>/week=W.sqlite   model answers, so a rerun never asks twice
    <root>/reports/week=W/run=R/report.html, <root>/exports/sft/week=W/run=R/training_samples.jsonl

A stage's run (:func:`stage_run`) commits as a whole: its tables are written in place
(invisible: no pointer names them), then its manifest, then the pointer, one atomic
write (a rename locally, one PUT on an object store). Readers follow the pointer, so
they see the whole run or none of it; an interrupted run's folders are removed by the
next run of the week. The run id is ``<week>-<settings digest>-<logs fingerprint>``.
SQLite and index state needs a local filesystem: for an object-store root it lives
under ``$INTENTMINE_STATE_DIR`` (:func:`local_state`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from core.errors import InputError
from core.files import aside, located
from jobs.common import fs
from schemas.arrow import validate
from schemas.tables import LOG_TABLES, RunManifest, StageRecord, model_for

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
SUCCESS = "_SUCCESS"
LATEST = "_LATEST"  # a table's pointer in warehouses written before the week pointer
COMMITTED = "_COMMITTED.json"


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
    """Deterministic run id: the same week, settings and logs always give the same run.

    Inside a stage's :func:`run_commit` it is that run's id (which carries a fingerprint
    of the logs the week's sample read); outside, ``<week>-<settings digest>``.
    """
    open_run = _OPEN.get()
    if open_run is not None and open_run.week == week:
        return open_run.run_id
    if settings.run_id:
        return settings.run_id
    week_bounds(week)
    return _run_id(week, settings, "")


# ---------------------------------------------------------------- paths
def week_dir(root: Path | str, table: str, week: str) -> Path | str:
    return fs.join(root, table, f"week={week}")


def table_dir(root: Path | str, table: str, week: str, run_id: str) -> Path | str:
    """The folder of a run: the committed one when the run is committed, else ``run=<id>``."""
    folder = commits(root, week)["tables"].get(table, {}).get("runs", {}).get(run_id)
    return fs.join(week_dir(root, table, week), folder or f"run={run_id}")


def registry_dir(root: Path | str) -> Path | str:
    return fs.join(root, "_registry")


def local_state(root: Path | str) -> Path:
    """Where state that needs a local filesystem (SQLite, indexes) lives: the root itself when
    it is local, else ``$INTENTMINE_STATE_DIR`` (default ``~/.cache/intentmine``)/<bucket>/<prefix>."""
    if fs.is_local(root):
        return Path(fs.resolve(root)[1])
    base = Path(os.environ.get("INTENTMINE_STATE_DIR") or Path.home() / ".cache" / "intentmine")
    return base / fs.resolve(root)[1]


def cache_dir(root: Path | str, name: str) -> Path:
    """State a stage keeps across weeks (``images``: the near-duplicate index; ``embeddings``)."""
    return local_state(root) / "_cache" / name


def query_photos_path(root: Path | str, week: str) -> Path | str:
    """The cache stage's query-photo features of a week, read by the analyse stage (on the root)."""
    return fs.join(root, "_cache", "query_photos", f"week={week}.parquet")


def checkpoint_path(root: Path | str, stage: str, week: str) -> Path:
    return local_state(root) / "_checkpoints" / stage / f"week={week}.sqlite"


def lock_path(root: Path | str, name: str) -> Path | str:
    return fs.join(root, "_locks", f"{name}.lock")


def report_path(root: Path | str, week: str, run_id: str) -> Path | str:
    return fs.join(root, "reports", f"week={week}", f"run={run_id}", "report.html")


def export_path(root: Path | str, week: str, run_id: str) -> Path | str:
    return fs.join(root, "exports", "sft", f"week={week}", f"run={run_id}", "training_samples.jsonl")


def pointer_path(root: Path | str, week: str) -> Path | str:
    return fs.join(root, "_manifests", f"week={week}", COMMITTED)


def commits(root: Path | str, week: str) -> dict:
    """The week's commit pointer: for each table its latest run and the folder of every run."""
    text = fs.read_text(pointer_path(root, week))
    return json.loads(text) if text else {"week": week, "tables": {}, "logs_fingerprint": ""}


def latest_run(root: Path | str, table: str, week: str) -> str | None:
    """Run id of the newest committed run of ``table`` for ``week``, or None."""
    entry = commits(root, week)["tables"].get(table)
    if entry is None:
        return _legacy_latest(root, table, week)
    run_id = entry["latest"]
    return run_id if fs.exists(fs.join(week_dir(root, table, week), entry["runs"][run_id], SUCCESS)) else None


def _legacy_latest(root: Path | str, table: str, week: str) -> str | None:
    """A warehouse written before the week pointer: the table's own ``_LATEST``."""
    run_id = (fs.read_text(fs.join(week_dir(root, table, week), LATEST)) or "").strip()
    if run_id and fs.exists(fs.join(week_dir(root, table, week), f"run={run_id}", SUCCESS)):
        return run_id
    return None


def committed_files(root: Path | str, table: str, week: str) -> list[str]:
    """The Parquet files of the latest committed run: what a DuckDB-style reader should open."""
    run_id = latest_run(root, table, week)
    if run_id is None:
        return []
    folder = table_dir(root, table, week, run_id)
    return [str(fs.join(folder, n)) for n in fs.names(folder) if n.endswith(".parquet")]


# ---------------------------------------------------------------- commit
@dataclasses.dataclass
class _Run:
    root: Path | str
    week: str
    run_id: str
    fingerprint: str = ""
    tables: dict[str, str] = dataclasses.field(default_factory=dict)  # table -> folder name
    manifest: RunManifest | None = None
    undo: list[tuple[Callable[[], None], Callable[[], None]]] = dataclasses.field(default_factory=list)

    def roll_back(self) -> None:
        """Remove the run's table folders (freeing their space), then put back every file it wrote."""
        pointer = commits(self.root, self.week)["tables"]
        for table, folder in self.tables.items():
            if pointer.get(table, {}).get("runs", {}).get(self.run_id) != folder:
                fs.remove(fs.join(week_dir(self.root, table, self.week), folder))
        for restore, _ in reversed(self.undo):
            restore()
        self.undo.clear()

    def keep(self) -> None:
        for _, discard in self.undo:
            discard()
        self.undo.clear()


_OPEN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("intentmine_run", default=None)


def logs_fingerprint(logs: Path | str) -> str:
    """A hash of the raw logs' file list (path, size, modification time): cheap at any size."""
    digest = hashlib.sha256()
    filesystem, base = fs.resolve(logs)
    for table in LOG_TABLES:
        infos = filesystem.get_file_info(pafs.FileSelector(f"{base}/{table}", recursive=True, allow_not_found=True))
        for info in sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path):
            digest.update(f"{info.path.removeprefix(base)}\0{info.size}\0{info.mtime_ns}\n".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def run_commit(root: Path | str, week: str, settings, fingerprint: str = "",
               shared: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the run id; everything published inside becomes visible in one step at the end.

    Holds the week's lock (and those of ``shared`` state: ``cache``, ``registry``), so a
    second run of the week is refused with one line; first removes what an interrupted
    run left. Tables and the manifest are written in place, then the week's pointer,
    which commits them: on an object store there is no rename, and the pointer is one PUT.
    """
    week_bounds(week)
    open_run = _OPEN.get()
    if open_run is not None and open_run.week == week and str(open_run.root) == str(root):
        yield open_run.run_id
        return
    created = not fs.exists(root)  # a run that fails leaves no warehouse it made
    fs.check_writable(root)
    with contextlib.ExitStack() as held:
        if created:
            held.callback(lambda: _remove_if_nothing_committed(root))
        held.enter_context(fs.lock(lock_path(root, f"week={week}"), f"week {week} under {fs.text(root)}"))
        for name in shared:
            held.enter_context(fs.lock(lock_path(root, name), f"the {name} under {fs.text(root)}"))
        cleanup(root, week)
        fingerprint = fingerprint or commits(root, week).get("logs_fingerprint", "")
        run = _Run(root, week, settings.run_id or _run_id(week, settings, fingerprint), fingerprint)
        token = _OPEN.set(run)
        try:
            yield run.run_id
            _commit(run)
        except BaseException:
            run.roll_back()
            raise
        finally:
            _OPEN.reset(token)


def _remove_if_nothing_committed(root: Path | str) -> None:
    """Remove a root this run created when it holds no committed week (the run failed early)."""
    manifests = fs.join(root, "_manifests")
    if not any(fs.exists(fs.join(manifests, n, COMMITTED)) for n in fs.names(manifests)):
        fs.remove(root)


def stage_run(fingerprint_logs: bool = False, shared: tuple[str, ...] = ()):
    """Decorate ``run_<stage>(logs, root, week, settings)``: the stage commits as a whole."""
    def wrap(func):
        @functools.wraps(func)
        def run(logs, root, week, settings, *args, **kwargs):
            fingerprint = logs_fingerprint(logs) if fingerprint_logs and logs is not None else ""
            with run_commit(root, week, settings, fingerprint, shared):
                return func(logs, root, week, settings, *args, **kwargs)
        return run
    return wrap


def _run_id(week: str, settings, fingerprint: str) -> str:
    base = f"{week}-{settings.digest()[:10]}"
    return f"{base}-{fingerprint[:6]}" if fingerprint else base


def _commit(run: _Run) -> None:
    """Write the manifest, then the week's pointer (the commit), then drop replaced folders."""
    pointer = commits(run.root, run.week)
    replaced = []
    for table, folder in run.tables.items():
        entry = pointer["tables"].setdefault(table, {"latest": run.run_id, "runs": {}})
        old = entry["runs"].get(run.run_id)
        if old and old != folder:
            replaced.append(fs.join(week_dir(run.root, table, run.week), old))
        entry["runs"][run.run_id], entry["latest"] = folder, run.run_id
    if run.fingerprint:
        pointer["logs_fingerprint"] = run.fingerprint
    if run.manifest is not None:
        run.manifest.status = "complete"
        write_file(manifest_path(run.root, run.week, run.run_id), run.manifest.model_dump_json(indent=2).encode())
    if run.tables or not fs.exists(pointer_path(run.root, run.week)):
        fs.write_text(pointer_path(run.root, run.week), json.dumps(pointer, indent=1, sort_keys=True))
    run.keep()  # committed: what the run replaced is gone for good
    for folder in replaced:
        fs.remove(folder)


# ---------------------------------------------------------------- files beside the tables
def journal(location: Path | str) -> None:
    """Let the open run put ``location`` back as it is now if the run fails, then write it any way.

    For the files a run writes that are not tables (registry state, its manifest, the SFT
    export, the report): a file the run creates is removed (with folders it leaves empty),
    one it replaces comes back. Locally the old version is kept by a hard link, which
    takes no space, so a full disk can always be rolled back; on an object store its bytes
    are kept in memory (these files are small). Outside a run the write is simply final.
    A killed process leaves what it wrote; the next run of the week recomputes it.
    """
    run = _OPEN.get()
    if run is None:
        return
    if not fs.exists(location):
        run.undo.append((lambda: _remove_new(run.root, location), lambda: None))
    elif fs.is_local(location):
        path = Path(fs.resolve(location)[1])
        kept = aside(path)
        try:
            os.link(path, kept)
        except OSError as exc:
            raise located(exc, path) from None
        run.undo.append((lambda: _put_back(kept, path), lambda: kept.unlink(missing_ok=True)))
    else:
        old = fs.read_bytes(location)
        run.undo.append((lambda: fs.write_bytes(location, old), lambda: None))


def write_file(location: Path | str, data: bytes) -> Path | str:
    """Replace one file atomically as part of the open run (see :func:`journal`)."""
    journal(location)
    return fs.write_bytes(location, data)


def _put_back(kept: Path, path: Path) -> None:
    os.replace(kept, path)
    kept.unlink(missing_ok=True)  # rename(2) does nothing when both name the same file (the write failed)


def _remove_new(root: Path | str, location: Path | str) -> None:
    fs.remove(location)
    if fs.is_local(location):
        top, folder = Path(fs.resolve(root)[1]), Path(fs.resolve(location)[1]).parent
        while folder != top and top in folder.parents and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def cleanup(root: Path | str, week: str) -> None:
    """Remove what interrupted runs of ``week`` left: run folders the pointer does not name.

    Called under the week's lock. Folders of a warehouse written before the pointer
    (a table's ``_LATEST``) are adopted into the pointer first, not removed.
    """
    pointer = commits(root, week)
    adopted = False
    for table in fs.names(root):
        if table.startswith("_") or table in ("reports", "exports") or not fs.is_dir(fs.join(root, table)):
            continue
        folder = week_dir(root, table, week)
        runs = [n for n in fs.names(folder) if n.startswith("run=")]
        entry = pointer["tables"].get(table)
        if entry is None and _legacy_latest(root, table, week):
            complete = {n.removeprefix("run="): n for n in runs if fs.exists(fs.join(folder, n, SUCCESS))}
            pointer["tables"][table] = entry = {"latest": _legacy_latest(root, table, week), "runs": complete}
            adopted = True
        named = set((entry or {}).get("runs", {}).values())
        for name in runs:
            if name not in named:
                fs.remove(fs.join(folder, name))
    for leftover in ("_staging", "_trash"):
        fs.remove(fs.join(root, leftover))
    if adopted:
        fs.write_text(pointer_path(root, week), json.dumps(pointer, indent=1, sort_keys=True))


@contextlib.contextmanager
def publishing(root: Path | str, table: str, week: str, run_id: str) -> Iterator[Path | str]:
    """Yield the folder to write one table's run into; it is committed with the run.

    Inside :func:`run_commit` the table becomes visible when the run commits; alone, it
    is a run of its own (one table, committed at once). A failure removes the folder.
    Works for any writer that fills a folder (pyarrow, Spark's ``df.write`` with
    :func:`jobs.common.fs.spark_location`).
    """
    week_bounds(week)
    model_for(table)
    open_run = _OPEN.get()
    if open_run is None or open_run.week != week or str(open_run.root) != str(root):
        with _single(root, week, run_id):
            with publishing(root, table, week, run_id) as folder:
                yield folder
        return
    name = f"run={run_id}"
    if fs.exists(fs.join(week_dir(root, table, week), name)):
        name = f"run={run_id}.{uuid.uuid4().hex[:8]}"
    folder = fs.join(week_dir(root, table, week), name)
    try:
        yield folder
        if not fs.exists(fs.join(folder, SUCCESS)):
            fs.write_bytes(fs.join(folder, SUCCESS), b"")
    except OSError as exc:  # a full disk while Arrow writes names no file
        fs.remove(folder)
        raise located(exc, fs.text(folder)) from None
    except BaseException:
        fs.remove(folder)
        raise
    open_run.tables[table] = name


@contextlib.contextmanager
def _single(root: Path | str, week: str, run_id: str) -> Iterator[_Run]:
    """A run of one write (a table or a manifest record) outside a stage: its own commit."""
    fs.check_writable(root)
    with fs.lock(lock_path(root, f"week={week}"), f"week {week} under {fs.text(root)}"):
        run = _Run(root, week, run_id)
        token = _OPEN.set(run)
        try:
            yield run
            _commit(run)
        except BaseException:
            run.roll_back()
            raise
        finally:
            _OPEN.reset(token)


def write_table(root: Path | str, table: str, week: str, run_id: str, data: pa.Table,
                row_group_size: int = 1_000_000) -> Path | str:
    """Validate ``data`` against the table's model and publish it as run ``run_id``."""
    data = validate(model_for(table), data, table, source="output")
    with publishing(root, table, week, run_id) as folder:
        filesystem, path = fs.resolve(folder)
        filesystem.create_dir(path, recursive=True)
        pq.write_table(data, f"{path}/part-00000.parquet", filesystem=filesystem,
                       row_group_size=row_group_size, compression="zstd")
    return folder


def optional_table(root: Path | str, table: str, week: str, columns: list[str] | None = None) -> pa.Table | None:
    """The latest complete run of a table, or None when there is none."""
    if latest_run(root, table, week) is None:
        return None
    return read_table(root, table, week, columns=columns)


def previous_week(week: str) -> str:
    """The ISO week before ``week``."""
    return iso_week(week_bounds(week)[0].date() - dt.timedelta(days=7))


def weeks(root: Path | str, table: str) -> list[str]:
    """The weeks that have a committed run of ``table``, oldest first."""
    found = [n.removeprefix("week=") for n in fs.names(fs.join(root, table)) if n.startswith("week=")]
    return sorted(w for w in found if latest_run(root, table, w))


def read_table(root: Path | str, table: str, week: str, run_id: str | None = None,
               columns: list[str] | None = None) -> pa.Table:
    """Read one committed run (the latest by default), validated."""
    run_id = run_id or latest_run(root, table, week)
    if run_id is None:
        raise InputError(f"table {table}: no complete run for week {week} under {fs.text(root)}")
    folder = table_dir(root, table, week, run_id)
    if not fs.exists(fs.join(folder, SUCCESS)):
        raise InputError(f"table {table}: run {run_id} of week {week} is not complete ({folder})")
    filesystem, path = fs.resolve(folder)
    data = ds.dataset(path, filesystem=filesystem, format="parquet", exclude_invalid_files=True).to_table()
    data = validate(model_for(table), data, table, source=str(folder))
    return data.select(columns) if columns else data


# ---------------------------------------------------------------- manifests
def manifest_path(root: Path | str, week: str, run_id: str) -> Path | str:
    return fs.join(root, "_manifests", f"week={week}", f"run={run_id}.json")


def read_manifest(root: Path | str, week: str, run_id: str) -> RunManifest | None:
    open_run = _OPEN.get()
    if open_run is not None and open_run.manifest is not None and (open_run.week, open_run.run_id) == (week, run_id):
        return open_run.manifest
    text = fs.read_text(manifest_path(root, week, run_id))
    return RunManifest.model_validate_json(text) if text else None


def record_stage(root: Path | str, week: str, run_id: str, settings, record: StageRecord,
                 inputs: dict[str, str] | None = None, models: dict[str, str] | None = None,
                 prompts: dict[str, str] | None = None) -> RunManifest:
    """Add (or replace) one stage's entry in the run's manifest; written when the run commits."""
    manifest = read_manifest(root, week, run_id) or RunManifest(
        run_id=run_id, week=week, settings_hash=settings.digest(), code_version=code_version(),
        inputs={}, models={}, prompts={}, stages=[], status="writing",
    )
    manifest.settings_hash = settings.digest()
    manifest.code_version = code_version()
    manifest.inputs.update(inputs or {})
    manifest.models.update(models or {})
    manifest.prompts.update(prompts or {})
    manifest.stages = [s for s in manifest.stages if s.stage != record.stage] + [record]
    open_run = _OPEN.get()
    if open_run is not None and (open_run.week, open_run.run_id, str(open_run.root)) == (week, run_id, str(root)):
        if open_run.fingerprint:
            manifest.inputs["logs_fingerprint"] = open_run.fingerprint
        open_run.manifest = manifest
        return manifest
    with _single(root, week, run_id) as run:
        run.manifest = manifest
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
