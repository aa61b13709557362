"""The review log: every decision is its own published run of ``review_decisions``.

``<root>/review_decisions/week=<week reviewed>/run=review-<decision_id>/``: a decision is
filed under the week whose tool list it reviews (the CLI's and the app's ``--week``,
by default the newest week with tools), not under the day it was taken.
Appending never rewrites earlier decisions, and recording a decision id that is
already there changes nothing (the same id with other content is an error).
Writers take :func:`locked` around check-then-record, so two reviewers deciding at
once each get their decision recorded and validated against the other's.
Decisions take effect when :func:`apply_pending` replays them onto the tool registry
(the tools stage does, oldest first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from core.errors import InputError
from jobs.common import fs
from jobs.common.storage import commits, iso_week, lock_path, read_table, weeks, write_table
from jobs.registry.tools import ToolRegistry, apply_decision, is_done
from schemas.arrow import to_arrow
from schemas.tables import ReviewDecision

TABLE = "review_decisions"
FIELDS = ("tool_id", "action", "value", "reviewer", "reason")
log = logging.getLogger("intentmine")


def decision_id(tool_id: str, action: str, value: str | None, reviewer: str, ts: dt.datetime) -> str:
    """A readable default id: content plus time, so two separate decisions never collide."""
    text = "|".join([tool_id, action, value or "", reviewer, ts.isoformat()])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_all(root: Path | str, through: str | None = None) -> list[dict]:
    """Every recorded decision (only those filed under weeks up to ``through``), oldest first."""
    rows = [row for week in weeks(root, TABLE) if through is None or week <= through
            for run_id in commits(root, week)["tables"].get(TABLE, {}).get("runs", {})
            for row in read_table(root, TABLE, week, run_id).to_pylist()]
    return sorted(rows, key=lambda r: (r["ts"], r["decision_id"]))


@contextlib.contextmanager
def locked(root: Path | str) -> Iterator[None]:
    """An exclusive lock on the review log of ``root``: one process at a time decides, the others
    wait their turn (locally); on an object store a second writer is refused with one line."""
    with fs.lock(lock_path(root, "review"), "the review log", wait=True):
        yield


def record(root: Path | str, decision: dict, week: str | None = None) -> bool:
    """Publish one decision under ``week`` (default: the decision's own ISO week);
    False when the same decision id is already recorded."""
    for earlier in read_all(root):
        if earlier["decision_id"] == decision["decision_id"]:
            if any(earlier.get(f) != decision.get(f) for f in FIELDS):
                raise InputError(f"decision id {decision['decision_id']} is already recorded "
                                 f"with different content ({earlier['action']} {earlier['tool_id']})")
            return False
    row = dict(decision, run_id=f"review-{decision['decision_id']}")
    table: pa.Table = to_arrow(ReviewDecision, [row])
    write_table(root, TABLE, week or iso_week(decision["ts"]), row["run_id"], table)
    return True


def apply_pending(registry: ToolRegistry, decisions: list[dict], defer_unknown: bool = False) -> tuple[int, int]:
    """Apply recorded decisions not applied yet, oldest first; (applied, skipped).

    ``defer_unknown``: leave a decision about a tool the registry does not know yet for a
    later call (the tools stage replays before and again after registering the week's groups).
    """
    applied = skipped = 0
    for decision in decisions:
        if is_done(registry, decision["decision_id"]):
            continue
        named = [decision["tool_id"]] + ([decision.get("value")] if decision["action"] == "merge" else [])
        if defer_unknown and any(n not in registry.tools for n in named):
            continue
        try:
            apply_decision(registry, decision)
            registry.applied_decisions.append(decision["decision_id"])
            applied += 1
        except InputError as exc:
            registry.skipped_decisions[decision["decision_id"]] = str(exc)
            log.warning("review decision %s skipped: %s", decision["decision_id"], exc)
            skipped += 1
    return applied, skipped
