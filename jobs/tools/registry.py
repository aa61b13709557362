"""The persistent tool registry: stable ids, never-reused indices, aliases, statuses.

Kept as one JSON file, ``<root>/_registry/tools.json``, replaced atomically at the
end of each ``tools`` run. A tool's id is derived from the group key it was first
seen under; its index is the next unused number. ``aliases`` maps every group key
(including the keys of renamed and merged groups) to a tool id, so a group keeps
its tool when the ontology renames it and a merged group counts for the survivor.

Statuses and their transitions (``TRANSITIONS``)::

    proposed --approve--> approved      proposed|approved --reject--> rejected
    rejected --approve--> approved      any but retired   --retire--> retired
    merge A INTO B: A becomes retired with merged_into = B (neither may be retired)
    rename: any but retired; adds an alias for the new subcategory name

A tool unseen for ``retire_after_weeks`` weeks is retired (``retired_by`` =
"absence") and comes back to its former status when its group reappears; a tool
retired by review or merge stays retired. A retired tool keeps its index forever.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import uuid
from pathlib import Path

from jobs.common.errors import InputError
from jobs.common.storage import week_bounds
from jobs.tools.groups import normalise, sub_key

REGISTRY = Path("_registry") / "tools.json"
TRANSITIONS = {
    "approve": {"proposed", "rejected", "approved"},
    "reject": {"proposed", "approved", "rejected"},
    "retire": {"proposed", "approved", "rejected", "retired"},
    "rename": {"proposed", "approved", "rejected"},
    "merge": {"proposed", "approved", "rejected"},
}
TARGET = {"approve": "approved", "reject": "rejected", "retire": "retired"}


def empty() -> dict:
    return {"next_index": 1, "tools": {}, "aliases": {}, "applied_decisions": [], "skipped_decisions": {}}


def load(root: Path | str) -> dict:
    path = Path(root) / REGISTRY
    if not path.exists():
        return empty()
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"tool registry {path}: not valid JSON ({exc})") from None


def save(root: Path | str, registry: dict) -> Path:
    path = Path(root) / REGISTRY
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(registry, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return path


def tool_id_for(key: str, taken: dict) -> str:
    """``t-`` + 10 hex digits of the key's SHA-1 (longer on the unlikely collision)."""
    digest = hashlib.sha1(key.encode()).hexdigest()
    for width in range(10, 41):
        candidate = f"t-{digest[:width]}"
        if candidate not in taken or taken[candidate]["key"] == key:
            return candidate
    raise RuntimeError(f"no free tool id for {key}")


def get(registry: dict, tool_id: str) -> dict:
    try:
        return registry["tools"][tool_id]
    except KeyError:
        raise InputError(f"unknown tool id '{tool_id}' (see 'intentmine review list')") from None


def resolve(registry: dict, key: str) -> str | None:
    """The surviving tool id for a group key, following merges; None if unknown."""
    tool_id = registry["aliases"].get(key)
    seen = set()
    while tool_id is not None and registry["tools"][tool_id].get("merged_into"):
        if tool_id in seen:
            raise InputError(f"tool registry: merge cycle through {tool_id}")
        seen.add(tool_id)
        tool_id = registry["tools"][tool_id]["merged_into"]
    return tool_id


def apply_decision(registry: dict, decision: dict) -> bool:
    """Apply one review decision in place; False when it changes nothing.

    Raises InputError naming the tool and the transition when it is illegal.
    """
    tool = get(registry, decision["tool_id"])
    action, value = decision["action"], decision.get("value")
    if tool["status"] not in TRANSITIONS[action]:
        raise InputError(f"tool {tool['tool_id']} is {tool['status']}"
                         f"{' (merged into ' + tool['merged_into'] + ')' if tool.get('merged_into') else ''}"
                         f": cannot {action} it")
    if action in TARGET:
        if tool["status"] == TARGET[action]:
            return False
        tool["status"], tool["retired_by"] = TARGET[action], ("review" if action == "retire" else None)
        return True
    if action == "rename":
        return _rename(registry, tool, value)
    return _merge(registry, tool, value)


def _rename(registry: dict, tool: dict, title: str | None) -> bool:
    title = " ".join((title or "").split())
    if not title:
        raise InputError(f"rename {tool['tool_id']}: the new title is empty")
    if title == tool["title"]:
        return False
    tool["title"] = title
    if tool["kind"] == "sub":
        registry["aliases"].setdefault(sub_key(tool["main_category"], title), tool["tool_id"])
    return True


def _merge(registry: dict, tool: dict, into: str | None) -> bool:
    target = get(registry, into or "")
    if target["tool_id"] == tool["tool_id"]:
        raise InputError(f"merge {tool['tool_id']}: a tool cannot be merged into itself")
    if target["status"] == "retired":
        raise InputError(f"tool {target['tool_id']} is retired: cannot merge into it")
    tool.update(status="retired", retired_by="merge", merged_into=target["tool_id"])
    return True


def weeks_between(earlier: str, later: str) -> int:
    return (week_bounds(later)[0] - week_bounds(earlier)[0]).days // 7


def observe(registry: dict, groups: list[dict], week: str, min_aux_size: int) -> dict[str, str]:
    """Register this week's groups; return group key -> surviving tool id.

    ``groups`` are dicts with key, kind, main_category, subcategory, aux_cluster, size
    and title, in any order; new tools get indices in key order, so the result does
    not depend on row order. Aux groups below ``min_aux_size`` only map if known.
    """
    mapping = {}
    for group in sorted(groups, key=lambda g: g["key"]):
        tool_id = resolve(registry, group["key"])
        if tool_id is None:
            if group["kind"] == "aux" and group["size"] < min_aux_size:
                continue
            tool_id = _register(registry, group, week)
        mapping[group["key"]] = tool_id
        tool = registry["tools"][tool_id]
        tool["first_week"] = min(tool["first_week"], week)
        tool["last_week"] = max(tool["last_week"], week)
        if tool["status"] == "retired" and tool.get("retired_by") == "absence":
            tool["status"], tool["retired_by"] = tool.pop("prior_status", "proposed"), None
    return mapping


def _register(registry: dict, group: dict, week: str) -> str:
    tool_id = tool_id_for(group["key"], registry["tools"])
    registry["tools"][tool_id] = {
        "tool_id": tool_id, "index": registry["next_index"], "key": group["key"], "kind": group["kind"],
        "main_category": group.get("main_category"), "subcategory": group.get("subcategory"),
        "aux_cluster": group.get("aux_cluster"), "title": normalise(group["title"]),
        "status": "proposed", "retired_by": None, "merged_into": None,
        "first_week": week, "last_week": week,
    }
    registry["next_index"] += 1
    registry["aliases"][group["key"]] = tool_id
    return tool_id


def retire_absent(registry: dict, week: str, after_weeks: int) -> list[str]:
    """Retire tools unseen for ``after_weeks`` weeks before ``week``; return their ids."""
    retired = []
    for tool in registry["tools"].values():
        if tool["status"] != "retired" and weeks_between(tool["last_week"], week) >= after_weeks:
            tool.update(prior_status=tool["status"], status="retired", retired_by="absence")
            retired.append(tool["tool_id"])
    return retired


def effective(registry: dict, decisions: list[dict]) -> dict:
    """A copy of the registry with the not yet applied decisions applied (illegal ones skipped)."""
    state = copy.deepcopy(registry)
    done = set(state["applied_decisions"]) | set(state["skipped_decisions"])
    for decision in decisions:
        if decision["decision_id"] not in done:
            try:
                apply_decision(state, decision)
            except InputError:
                pass
    return state
