"""The weekly pipeline as an ordered list of stages, shared by ``run``, ``demo`` and the DAG,
and the ``intentmine run`` command.

A stage is a function ``(logs, root, week, settings) -> dict`` of counts for the
summary, ``run_<stage>`` in the stage package's ``stage.py``; it reads only the tables
of earlier stages and publishes its own.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from pathlib import Path
from typing import Callable

from core.errors import InputError
from jobs.common.settings import Settings, get_settings, overlay

log = logging.getLogger("intentmine")

# name -> "module:function"; imported only when the stage runs.
STAGES: dict[str, str] = {
    "validate": "jobs.pipeline:validate_logs",
    "sample": "jobs.sample.stage:run_sample",
    "cache": "jobs.cache.stage:run_cache",
    "analyse": "jobs.analyse.stage:run_analyse",
    "cluster": "jobs.cluster.stage:run_cluster",
    "tools": "jobs.tools.stage:run_tools",
    "replay": "jobs.replay.stage:run_replay",
    "report": "jobs.report.stage:run_report",
}


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run the weekly stages in order on existing logs")
    run.add_argument("--logs", type=Path, required=True, help="folder written by generate-logs (or real logs)")
    run.add_argument("--root", type=Path, required=True, help="warehouse root for the versioned tables")
    run.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    run.add_argument("--backend", choices=["rules", "vllm"], default=None, help="analysis backend")
    run.add_argument("--from", dest="first", default=None, help="first stage to run")
    run.add_argument("--to", dest="last", default=None, help="last stage to run")
    run.set_defaults(func=run_command)


def run_command(args) -> int:
    settings = overlay(get_settings(), {"models.backend": args.backend})
    began = time.perf_counter()
    results = run_week(args.logs, args.root, args.week, settings, args.first, args.last)
    print(f"week {args.week}: {len(results)} stage(s) in {time.perf_counter() - began:.1f}s")
    print(format_results(results))
    return 0


def validate_logs(logs: Path, root: Path, week: str, settings: Settings) -> dict:
    """File-level check of the week's logs (readable Parquet, required columns, types), from the
    footers alone; rows per table and empty day partitions. Row-level faults (a null id, an
    ``inf`` similarity, invalid UTF-8) are not decided here: sample quarantines them per row."""
    from jobs.common.storage import week_bounds
    from jobs.sample.files import check_log_files
    from jobs.sample.logs import week_dates

    files = check_log_files(str(logs), week_dates(week_bounds(week)[0]))
    return {**files.rows, "empty_partitions": len(files.empty_partitions)}


def check_root(root: Path | str, writable: bool = True) -> None:
    """One line, before any heavy work, when ``root`` cannot be the warehouse: a file, or a
    folder (or the nearest existing parent of one to be created) this process cannot write.
    URIs with a scheme are left to the filesystem layer."""
    import os
    import tempfile

    text = str(root)
    if "://" in text:
        return
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise InputError(f"--root {path}: is a file, expected a folder (or a path to create)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--root {path}: {existing} is a file, expected a folder")
    if not writable:
        return
    try:  # os.access is wrong for root and for read-only mounts: try it
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".intentmine-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"--root {path}: cannot write in {existing} ({exc.strerror or exc})") from None
    if existing != path:
        return
    for child in ("_staging", "_manifests"):
        folder = path / child
        if folder.exists() and not os.access(folder, os.W_OK):
            raise InputError(f"--root {path}: cannot write in {folder}")


def stage_function(name: str) -> Callable[..., dict]:
    module, func = STAGES[name].split(":")
    return getattr(importlib.import_module(module), func)


def select_stages(first: str | None, last: str | None) -> list[str]:
    """The stage names from ``first`` to ``last`` inclusive, in pipeline order."""
    names = list(STAGES)
    for given in (first, last):
        if given is not None and given not in STAGES:
            raise InputError(f"unknown stage '{given}'; expected one of: {', '.join(names)}")
    start = names.index(first) if first else 0
    stop = names.index(last) + 1 if last else len(names)
    if start >= stop:
        raise InputError(f"--from {first} comes after --to {last}")
    return names[start:stop]


def run_week(logs: Path, root: Path, week: str, settings: Settings,
             first: str | None = None, last: str | None = None) -> dict[str, dict]:
    """Run the selected stages in order; return each stage's counts and seconds."""
    from jobs.common.storage import week_bounds

    week_bounds(week)
    check_root(root)
    results = {}
    for name in select_stages(first, last):
        log.info("stage %s: starting (week %s)", name, week)
        began = time.perf_counter()
        counts = stage_function(name)(Path(logs), Path(root), week, settings)
        counts["seconds"] = round(time.perf_counter() - began, 2)
        log.info("stage %s: done in %.1fs", name, counts["seconds"])
        results[name] = counts
    return results


def week_for(logical_date: dt.datetime) -> str:
    """The ISO week a scheduled run processes: the one that ended before its logical date."""
    from jobs.common.storage import iso_week

    return iso_week(logical_date.astimezone(dt.timezone.utc) - dt.timedelta(days=1))


RATIO_WORDS = ("rate", "share", "precision", "recall", "accuracy")


def _show(value, key: str = "") -> str:
    """A count with separators, a ratio as a percentage, anything else compactly."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if any(word in key for word in RATIO_WORDS) and not key.endswith("_s"):
            return f"{value:.1%}"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v, str(k))}" for k, v in value.items()) + "}"
    return str(value)


def format_results(results: dict[str, dict]) -> str:
    """One line per stage: its counts and time (nested counts on their own indented line)."""
    lines = []
    for name, counts in results.items():
        flat = {k: v for k, v in counts.items() if k != "seconds" and not isinstance(v, dict)}
        lines.append(f"  {name:<10} {counts.get('seconds', 0):>7.1f}s  "
                     + "  ".join(f"{k} {_show(v, k)}" for k, v in flat.items()))
        for key, value in counts.items():
            if isinstance(value, dict):
                lines.append(f"  {'':<10} {'':>8}  {key}: {_show(value, key)}")
    return "\n".join(lines)
