"""The tool registry: stable ids, never-reused indices, aliases, statuses.

One JSON file, ``<root>/_registry/tools.json``, read into :class:`ToolRegistry` (a
validated model) and replaced atomically at the end of each ``tools`` run. A tool's id
is derived from the group key it was first seen under; its index is the next unused
number. ``aliases`` maps every group key (including the keys of renamed and merged
groups) to a tool id, so a group keeps its tool when the ontology renames it and a
merged group counts for the survivor.

A group key names a group independently of any registry: ``sub::<main>::<subcategory>``
for a subcategory, ``aux::<label>`` for an auxiliary DBSCAN cluster. Names inside keys
are lower case with single spaces (:func:`name_key`), so a change of case or spacing
in the ontology does not make a new tool.

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

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InputError
from jobs.common import fs
from jobs.common.storage import registry_dir, week_bounds, write_file

Status = Literal["proposed", "approved", "rejected", "retired"]
ACTIVE = ("proposed", "approved")  # the statuses the online planner may call
TRANSITIONS = {
    "approve": {"proposed", "rejected", "approved"},
    "reject": {"proposed", "approved", "rejected"},
    "retire": {"proposed", "approved", "rejected", "retired"},
    "rename": {"proposed", "approved", "rejected"},
    "merge": {"proposed", "approved", "rejected"},
}
TARGET = {"approve": "approved", "reject": "rejected", "retire": "retired"}


# ---------------------------------------------------------------- group keys
def name_key(text: str) -> str:
    """Lower case, single spaces: the form names take inside group keys."""
    return " ".join(str(text).lower().split())


def sub_key(main: str, sub: str) -> str:
    return f"sub::{name_key(main)}::{name_key(sub)}"


def aux_key(label: int) -> str:
    return f"aux::{int(label)}"


# ---------------------------------------------------------------- the model
class Tool(BaseModel):
    """One registered tool; ``prior_status`` is kept while it is retired by absence."""

    model_config = ConfigDict(extra="forbid")

    tool_id: str
    index: int = Field(ge=1)
    key: str
    kind: Literal["sub", "aux"]
    main_category: str | None = None
    subcategory: str | None = None
    aux_cluster: int | None = None
    title: str
    status: Status = "proposed"
    retired_by: str | None = None
    merged_into: str | None = None
    first_week: str
    last_week: str
    prior_status: Status | None = None

    @property
    def group(self) -> str:
        """The group it came from, so equal titles under different categories stay apart."""
        return f"{self.main_category} › {self.subcategory}" if self.kind == "sub" else "auxiliary cluster"


class ToolRegistry(BaseModel):
    """Every tool ever registered, by id, with the aliases and the decisions already replayed."""

    model_config = ConfigDict(extra="forbid")

    next_index: int = Field(1, ge=1)
    tools: dict[str, Tool] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    applied_decisions: list[str] = Field(default_factory=list)
    skipped_decisions: dict[str, str] = Field(default_factory=dict)

    def by_index(self) -> list[Tool]:
        return sorted(self.tools.values(), key=lambda t: t.index)

    def active(self) -> list[Tool]:
        """Proposed and approved tools, by index."""
        return [t for t in self.by_index() if t.status in ACTIVE]

    def active_indices(self) -> dict[str, int]:
        return {t.tool_id: t.index for t in self.active()}


def path(root: Path | str) -> Path | str:
    return fs.join(registry_dir(root), "tools.json")


def snapshot_path(root: Path | str, week: str) -> Path | str:
    """The registry as the tools run of ``week`` left it (``tools.json`` is the newest week's)."""
    return fs.join(registry_dir(root), "tools", f"week={week}.json")


def snapshot_weeks(root: Path | str) -> list[str]:
    folder = fs.join(registry_dir(root), "tools")
    return sorted(n.removeprefix("week=").removesuffix(".json") for n in fs.names(folder)
                  if n.startswith("week=") and n.endswith(".json"))


def load_for_week(root: Path | str, week: str) -> ToolRegistry:
    """The registry a tools run of ``week`` starts from: as the newest earlier week left it.

    So a rerun of an old week sees what it saw the first time, whatever later weeks did;
    a registry written before snapshots existed (only ``tools.json``) is taken as it is.
    """
    known = snapshot_weeks(root)
    earlier = [w for w in known if w < week]
    if earlier:
        return _read(snapshot_path(root, earlier[-1]))
    return ToolRegistry() if known else load(root)


def save_for_week(root: Path | str, week: str, registry: ToolRegistry) -> None:
    """Keep the week's snapshot; ``tools.json`` follows only the newest week."""
    _write(snapshot_path(root, week), registry)
    if week >= max(snapshot_weeks(root), default=week):
        save(root, registry)


def load(root: Path | str) -> ToolRegistry:
    """The registry under ``root`` (empty when there is none); a bad file is one InputError line."""
    return _read(path(root))


def _read(file) -> ToolRegistry:
    text = fs.read_text(file)
    if text is None:
        return ToolRegistry()
    try:
        return ToolRegistry.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InputError(f"tool registry {file}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"tool registry {file}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def save(root: Path | str, registry: ToolRegistry) -> Path:
    return _write(path(root), registry)


def _write(file, registry: ToolRegistry):
    data = registry.model_dump()
    for tool in data["tools"].values():
        if tool["prior_status"] is None:
            del tool["prior_status"]
    return write_file(file, json.dumps(data, indent=1, sort_keys=True).encode())


# ---------------------------------------------------------------- lookups
def tool_id_for(key: str, taken: dict[str, Tool]) -> str:
    """``t-`` + 10 hex digits of the key's SHA-1 (longer on the unlikely collision)."""
    digest = hashlib.sha1(key.encode()).hexdigest()
    for width in range(10, 41):
        candidate = f"t-{digest[:width]}"
        if candidate not in taken or taken[candidate].key == key:
            return candidate
    raise RuntimeError(f"no free tool id for {key}")


def get(registry: ToolRegistry, tool_id: str) -> Tool:
    try:
        return registry.tools[tool_id]
    except KeyError:
        raise InputError(f"unknown tool id '{tool_id}' (see 'intentmine review list')") from None


def find(registry: ToolRegistry, ref: str | int | None) -> Tool:
    """A tool by id (``t-…``) or by index (``29`` or ``#29``, the first column of ``review list``)."""
    text = str(ref if ref is not None else "").strip()
    if text.lstrip("#").isdigit():
        index = int(text.lstrip("#"))
        found = next((t for t in registry.tools.values() if t.index == index), None)
        if found is None:
            raise InputError(f"unknown tool index {index} (see 'intentmine review list')")
        return found
    return get(registry, text)


def resolve(registry: ToolRegistry, key: str) -> str | None:
    """The surviving tool id for a group key, following merges; None if unknown."""
    tool_id = registry.aliases.get(key)
    seen = set()
    while tool_id is not None and registry.tools[tool_id].merged_into:
        if tool_id in seen:
            raise InputError(f"tool registry: merge cycle through {tool_id}")
        seen.add(tool_id)
        tool_id = registry.tools[tool_id].merged_into
    return tool_id


# ---------------------------------------------------------------- review decisions
def apply_decision(registry: ToolRegistry, decision: dict) -> bool:
    """Apply one review decision in place; False when it changes nothing.

    Raises InputError naming the tool and the transition when it is illegal.
    """
    tool = get(registry, decision["tool_id"])
    action, value = decision["action"], decision.get("value")
    if tool.status not in TRANSITIONS[action]:
        merged = f" (merged into {tool.merged_into})" if tool.merged_into else ""
        raise InputError(f"tool {tool.tool_id} is {tool.status}{merged}: cannot {action} it")
    if action in TARGET:
        if tool.status == TARGET[action]:
            return False
        tool.status, tool.retired_by = TARGET[action], ("review" if action == "retire" else None)
        return True
    if action == "rename":
        return _rename(registry, tool, value)
    return _merge(registry, tool, value)


def _rename(registry: ToolRegistry, tool: Tool, title: str | None) -> bool:
    title = " ".join((title or "").split())
    if not title:
        raise InputError(f"rename {tool.tool_id}: the new title is empty")
    if title == tool.title:
        return False
    tool.title = title
    if tool.kind == "sub":
        registry.aliases.setdefault(sub_key(tool.main_category, title), tool.tool_id)
    return True


def _merge(registry: ToolRegistry, tool: Tool, into: str | None) -> bool:
    target = find(registry, into)
    if target.tool_id == tool.tool_id:
        raise InputError(f"merge {tool.tool_id}: a tool cannot be merged into itself")
    if target.status == "retired":
        raise InputError(f"tool {target.tool_id} is retired: cannot merge into it")
    tool.status, tool.retired_by, tool.merged_into = "retired", "merge", target.tool_id
    return True


def is_done(registry: ToolRegistry, decision_id: str) -> bool:
    return decision_id in registry.applied_decisions or decision_id in registry.skipped_decisions


def effective(registry: ToolRegistry, decisions: list[dict]) -> ToolRegistry:
    """A copy of the registry with the not yet applied decisions applied (illegal ones skipped)."""
    state = registry.model_copy(deep=True)
    for decision in decisions:
        if not is_done(state, decision["decision_id"]):
            try:
                apply_decision(state, decision)
            except InputError:
                pass
    return state


# ---------------------------------------------------------------- a week's groups
def weeks_between(earlier: str, later: str) -> int:
    return (week_bounds(later)[0] - week_bounds(earlier)[0]).days // 7


def observe(registry: ToolRegistry, groups: list[dict], week: str, min_aux_size: int) -> dict[str, str]:
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
        tool = registry.tools[tool_id]
        tool.first_week = min(tool.first_week, week)
        tool.last_week = max(tool.last_week, week)
        if tool.status == "retired" and tool.retired_by == "absence":
            tool.status, tool.retired_by = tool.prior_status or "proposed", None
            tool.prior_status = None
    return mapping


def _register(registry: ToolRegistry, group: dict, week: str) -> str:
    tool_id = tool_id_for(group["key"], registry.tools)
    registry.tools[tool_id] = Tool(
        tool_id=tool_id, index=registry.next_index, key=group["key"], kind=group["kind"],
        main_category=group.get("main_category"), subcategory=group.get("subcategory"),
        aux_cluster=group.get("aux_cluster"), title=name_key(group["title"]),
        first_week=week, last_week=week)
    registry.next_index += 1
    registry.aliases[group["key"]] = tool_id
    return tool_id


def retire_absent(registry: ToolRegistry, week: str, after_weeks: int) -> list[str]:
    """Retire tools unseen for ``after_weeks`` weeks before ``week``; return their ids."""
    retired = []
    for tool in registry.tools.values():
        if tool.status != "retired" and weeks_between(tool.last_week, week) >= after_weeks:
            tool.prior_status, tool.status, tool.retired_by = tool.status, "retired", "absence"
            retired.append(tool.tool_id)
    return retired
