"""The review log: every decision is its own published run of ``review_decisions``.

``<root>/review_decisions/week=<week of the decision>/run=review-<decision_id>/``.
Appending never rewrites earlier decisions, and recording a decision id that is
already there changes nothing (the same id with other content is an error).
Decisions take effect when :func:`apply_pending` replays them onto the tool registry
(the tools stage does, oldest first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from core.errors import InputError
from jobs.common.storage import SUCCESS, iso_week, write_table
from jobs.registry.tools import ToolRegistry, apply_decision, is_done
from schemas.arrow import to_arrow, validate
from schemas.tables import ReviewDecision

TABLE = "review_decisions"
FIELDS = ("tool_id", "action", "value", "reviewer", "reason")
log = logging.getLogger("intentmine")


def decision_id(tool_id: str, action: str, value: str | None, reviewer: str, ts: dt.datetime) -> str:
    """A readable default id: content plus time, so two separate decisions never collide."""
    text = "|".join([tool_id, action, value or "", reviewer, ts.isoformat()])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_all(root: Path | str) -> list[dict]:
    """Every recorded decision, oldest first (ties by decision id)."""
    folder = Path(root) / TABLE
    runs = [p for p in folder.glob("week=*/run=*") if (p / SUCCESS).exists()] if folder.exists() else []
    if not runs:
        return []
    files = [str(f) for p in runs for f in sorted(p.glob("*.parquet"))]
    data = ds.dataset(files, format="parquet").to_table()
    data = validate(ReviewDecision, data, TABLE, source=str(folder))
    rows = data.to_pylist()
    return sorted(rows, key=lambda r: (r["ts"], r["decision_id"]))


def record(root: Path | str, decision: dict) -> bool:
    """Publish one decision; False when the same decision id is already recorded."""
    for earlier in read_all(root):
        if earlier["decision_id"] == decision["decision_id"]:
            if any(earlier.get(f) != decision.get(f) for f in FIELDS):
                raise InputError(f"decision id {decision['decision_id']} is already recorded "
                                 f"with different content ({earlier['action']} {earlier['tool_id']})")
            return False
    row = dict(decision, run_id=f"review-{decision['decision_id']}")
    table: pa.Table = to_arrow(ReviewDecision, [row])
    write_table(root, TABLE, iso_week(decision["ts"]), row["run_id"], table)
    return True


def apply_pending(registry: ToolRegistry, decisions: list[dict]) -> tuple[int, int]:
    """Apply recorded decisions not applied yet, oldest first; (applied, skipped)."""
    applied = skipped = 0
    for decision in decisions:
        if is_done(registry, decision["decision_id"]):
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
