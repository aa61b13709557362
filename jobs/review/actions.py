"""What ``intentmine review`` does, as functions tests call directly.

Decisions are checked against the registry with the pending ones applied and recorded in
the review log (:mod:`jobs.registry.reviews`); the next tools run replays them.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from jobs.registry import reviews
from jobs.registry import tools as reg


def _registry(root: Path) -> reg.ToolRegistry:
    registry = reg.load(root)
    if not registry.tools:
        raise InputError(f"no tools under {Path(root)}: run 'intentmine tools' first")
    return registry


def decide(root: Path, decision: dict) -> str:
    """Validate one decision against the effective state and record it; a one-line outcome."""
    registry = _registry(root)
    decisions = reviews.read_all(root)
    given = decision.get("decision_id")
    if given and any(d["decision_id"] == given for d in decisions):
        reviews.record(root, decision)  # raises when the content differs
        return f"decision {given} is already recorded; nothing changed"
    state = reg.effective(registry, decisions)
    if not reg.apply_decision(state, dict(decision)):
        tool = state.tools[decision["tool_id"]]
        return f"nothing to do: tool {tool.tool_id} is already {tool.status} ('{tool.title}')"
    decision = dict(decision, decision_id=given or reviews.decision_id(
        decision["tool_id"], decision["action"], decision.get("value"), decision["reviewer"], decision["ts"]))
    reviews.record(root, decision)
    tool = state.tools[decision["tool_id"]]
    return (f"recorded {decision['decision_id']}: {decision['action']} {tool.tool_id} (index "
            f"{tool.index}) by {decision['reviewer']}; now {tool.status} '{tool.title}' "
            f"from the next 'intentmine tools' run")


def listing(root: Path) -> str:
    """Every tool by index: status now, status after pending decisions, title, weeks seen."""
    registry = _registry(root)
    decisions = reviews.read_all(root)
    state = reg.effective(registry, decisions)
    lines = [f"{'index':>5}  {'tool id':<13} {'status':<9} {'pending':<9} {'weeks':<19} title"]
    for tool in state.by_index():
        now = registry.tools[tool.tool_id]
        pending = tool.status if tool.status != now.status else ""
        title = tool.title + (f"  (was '{now.title}')" if tool.title != now.title else "")
        merged = f"  -> merged into {tool.merged_into}" if tool.merged_into else ""
        lines.append(f"{tool.index:>5}  {tool.tool_id:<13} {now.status:<9} {pending:<9} "
                     f"{tool.first_week}..{tool.last_week:<9} {title}{merged}")
    waiting = [d for d in decisions if not reg.is_done(registry, d["decision_id"])]
    lines.append(f"{len(waiting)} decision(s) pending the next tools run")
    return "\n".join(lines)
