"""What ``intentmine review`` (and the app's review page) does, as functions tests call directly.

Decisions are checked against the registry with the pending ones applied and recorded in
the review log (:mod:`jobs.registry.reviews`) under the week they review; the next tools
run replays them. A tool is named by its id or its index.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import InputError
from jobs.common import fs
from jobs.common.storage import optional_table, week_bounds
from jobs.common.storage import weeks as storage_weeks
from jobs.registry import reviews
from jobs.registry import tools as reg

SORTS = ("index", "share", "title", "status")
STATUSES = ("proposed", "approved", "rejected", "retired")


def _registry(root: Path) -> reg.ToolRegistry:
    registry = reg.load(root)
    if not registry.tools:
        raise InputError(f"no tools under {fs.text(root)}: run 'intentmine tools' first")
    return registry


def tool_weeks(root: Path) -> list[str]:
    """Weeks with a published tool list, oldest first."""
    return storage_weeks(root, "tools")


def review_week(root: Path, week: str | None) -> str:
    """The week a decision reviews: ``week`` if it has tools, else the newest week with tools."""
    weeks = tool_weeks(root)
    if week is None:
        if not weeks:
            raise InputError(f"no published tool list under {fs.text(root)}: run 'intentmine tools' first")
        return weeks[-1]
    week_bounds(week)
    if week not in weeks:
        raise InputError(f"--week {week}: no published tool list for that week "
                         f"(weeks with tools: {', '.join(weeks) or 'none'})")
    return week


def decide(root: Path, decision: dict, week: str | None = None) -> str:
    """Validate one decision against the effective state and record it; a one-line outcome.

    ``decision['tool_id']`` (and a merge's ``value``) may be an id or an index; both are
    stored as ids. Raises :class:`InputError` (nothing recorded) for an unknown tool, a
    missing reviewer, an empty title, a merge into itself or into a retired tool.
    """
    if not str(decision.get("reviewer") or "").strip():
        raise InputError("a reviewer name is required (--reviewer NAME)")
    week = review_week(root, week)
    with reviews.locked(root):
        registry = _registry(root)
        decisions = reviews.read_all(root)
        state = reg.effective(registry, decisions)
        tool = reg.find(state, decision["tool_id"])
        decision = dict(decision, tool_id=tool.tool_id, reviewer=str(decision["reviewer"]).strip())
        if decision["action"] == "merge":
            decision["value"] = reg.find(state, decision.get("value")).tool_id
        given = decision.get("decision_id")
        if given and any(d["decision_id"] == given for d in decisions):
            reviews.record(root, decision, week)  # raises when the content differs
            return f"decision {given} is already recorded; nothing changed"
        if not reg.apply_decision(state, dict(decision)):
            return f"nothing to do: tool {tool.tool_id} is already {tool.status} ('{tool.title}')"
        decision = dict(decision, decision_id=given or reviews.decision_id(
            decision["tool_id"], decision["action"], decision.get("value"), decision["reviewer"], decision["ts"]))
        reviews.record(root, decision, week)
    tool = state.tools[decision["tool_id"]]
    return (f"recorded {decision['decision_id']}: {decision['action']} {tool.tool_id} (index "
            f"{tool.index}) by {decision['reviewer']} for week {week}; now {tool.status} '{tool.title}' "
            f"from the next 'intentmine tools' run")


def rows(root: Path, week: str | None = None, sort: str = "index", status: str | None = None) -> list[dict]:
    """Every tool: status now and after pending decisions, title, share in ``week``'s list."""
    if sort not in SORTS:
        raise InputError(f"--sort {sort}: expected one of {', '.join(SORTS)}")
    if status is not None and status not in STATUSES:
        raise InputError(f"--status {status}: expected one of {', '.join(STATUSES)}")
    registry = _registry(root)
    decisions = reviews.read_all(root)
    state = reg.effective(registry, decisions)
    week = review_week(root, week)
    table = optional_table(root, "tools", week)
    shares = {r["tool_id"]: r for r in table.to_pylist()} if table is not None else {}
    out = []
    for tool in state.by_index():
        now, s = registry.tools[tool.tool_id], shares.get(tool.tool_id, {})
        out.append({"index": tool.index, "tool_id": tool.tool_id, "title": tool.title, "group": tool.group,
                    "status": now.status, "pending_status": tool.status if tool.status != now.status else None,
                    "was_title": now.title if now.title != tool.title else None,
                    "merged_into": tool.merged_into, "first_week": tool.first_week, "last_week": tool.last_week,
                    "week": week, "share": s.get("traffic_share"), "share_low": s.get("traffic_share_low"),
                    "share_high": s.get("traffic_share_high"), "n_actions": s.get("n_actions")})
    if status is not None:
        out = [r for r in out if (r["pending_status"] or r["status"]) == status]
    key = {"index": lambda r: r["index"], "share": lambda r: (-(r["share"] or 0.0), r["index"]),
           "title": lambda r: (r["title"], r["index"]),
           "status": lambda r: (STATUSES.index(r["pending_status"] or r["status"]), r["index"])}[sort]
    return sorted(out, key=key)


def pending_count(root: Path) -> int:
    registry = _registry(root)
    return sum(not reg.is_done(registry, d["decision_id"]) for d in reviews.read_all(root))


def listing(root: Path, week: str | None = None, sort: str = "index", status: str | None = None,
            as_json: bool = False) -> str:
    """The tools as text lines (or JSON): index, id, status, pending status, share, weeks, title."""
    found = rows(root, week, sort, status)
    if as_json:
        return json.dumps(found, indent=1, ensure_ascii=False)
    lines = [f"{'index':>5}  {'tool id':<13} {'status':<9} {'pending':<9} {'share':>6} {'weeks':<19} title"]
    for r in found:
        share = f"{r['share']:.1%}" if r["share"] is not None else "-"
        title = r["title"] + (f"  (was '{r['was_title']}')" if r["was_title"] else "")
        merged = f"  -> merged into {r['merged_into']}" if r["merged_into"] else ""
        lines.append(f"{r['index']:>5}  {r['tool_id']:<13} {r['status']:<9} {r['pending_status'] or '':<9} "
                     f"{share:>6} {r['first_week']}..{r['last_week']:<9} {title}{merged}")
    lines.append(f"{pending_count(root)} decision(s) pending the next tools run; shares from week {found[0]['week'] if found else review_week(root, week)}")
    return "\n".join(lines)
