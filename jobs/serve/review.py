"""The review page's content: a card per tool, its suggested duplicates, and what changed.

Evidence for a tool is what produced it: the most frequent reasoning texts and infos
of its signals (the rules backend's reasoning names the expert rule it applied).
Suggested duplicates are the nearest tools by the centroid embedding of their actions
(``cluster_map.neighbours``). Changes are computed between two tool lists (the last
two list versions, or last week's and this week's list); a change of status, title
or merge that a recorded review decision explains, and the share change of a merge's
survivor, are marked as review effects, not trends.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from jobs.registry import reviews
from jobs.registry import tools as reg
from jobs.registry.tool_lists import folder as lists_folder
from jobs.serve.data import WeekData

EVIDENCE = 3


def duplicates(data: WeekData, registry: reg.ToolRegistry, tool: reg.Tool, k: int = 3) -> list[dict]:
    """Nearest other active tools by centroid cosine of the tool's groups (best first)."""
    if data.points is None:
        return []
    points = data.points.set_index("key")
    keys = [key for key, tid in registry.aliases.items() if reg.resolve(registry, key) == tool.tool_id]
    best: dict[str, float] = {}
    for key in keys:
        if key not in points.index:
            continue
        for other, sim in zip(points.loc[key, "neighbours"], points.loc[key, "neighbour_similarity"]):
            other_id = reg.resolve(registry, other)
            if other_id and other_id != tool.tool_id and registry.tools[other_id].status != "retired":
                best[other_id] = max(best.get(other_id, -1.0), float(sim))
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
    return [{"tool_id": t, "index": registry.tools[t].index, "title": registry.tools[t].title, "similarity": s}
            for t, s in ranked]


def evidence(data: WeekData, tool_id: str) -> list[tuple[str, int]]:
    rows = data.rows[data.rows["tool_id"] == tool_id]
    return Counter(r for r in rows["reasoning"] if r).most_common(EVIDENCE)


def cards(data: WeekData, registry: reg.ToolRegistry, state: reg.ToolRegistry) -> list[dict]:
    """One card per tool of the week's list, active ones first by share."""
    if data.tools is None:
        return []
    out = []
    for row in data.tools.to_dict("records"):
        tool = state.tools.get(row["tool_id"])
        if tool is None:
            continue
        now = registry.tools[row["tool_id"]]
        out.append({**row, "title_now": tool.title, "status_now": tool.status,
                    "pending": tool.status != now.status or tool.title != now.title
                    or tool.merged_into != now.merged_into,
                    "merged_into_now": tool.merged_into, "group": tool.group,
                    "example_actions": list(row["example_actions"]), "example_infos": list(row["example_infos"]),
                    "evidence": evidence(data, row["tool_id"]), "duplicates": duplicates(data, state, tool)})
    out.sort(key=lambda c: (c["status_now"] not in reg.ACTIVE, -c["traffic_share"], c["index"]))
    return out


def list_versions(root: Path) -> list[int]:
    place = lists_folder(root)
    return sorted(int(p.stem[1:]) for p in place.glob("v*.parquet")) if place.is_dir() else []


def read_version(root: Path, version: int) -> pd.DataFrame:
    return pq.read_table(lists_folder(root) / f"v{version:04d}.parquet").to_pandas()


def changes(before: pd.DataFrame | None, after: pd.DataFrame | None, decisions: list[dict]) -> list[dict]:
    """Per tool that changed: what (new, gone, status, title, merged, share) and whether a review caused it."""
    if after is None:
        return []
    decided = {(d["tool_id"], d["action"]) for d in decisions}
    survivors = {d["value"] for d in decisions if d["action"] == "merge"}
    old = before.set_index("tool_id") if before is not None else pd.DataFrame()
    out = []
    for row in after.to_dict("records"):
        tid = row["tool_id"]
        if tid not in old.index:
            out.append({"tool_id": tid, "index": row["index"], "title": row["title"], "what": "new tool",
                        "review": False})
            continue
        prev = old.loc[tid]
        found = []
        if prev["status"] != row["status"]:
            action = {"approved": "approve", "rejected": "reject", "retired": "merge" if row["merged_into"]
                      else "retire"}.get(row["status"], "")
            found.append((f"status {prev['status']} → {row['status']}", (tid, action) in decided
                          or (tid, "retire") in decided))
        if prev["title"] != row["title"]:
            found.append((f"title '{prev['title']}' → '{row['title']}'", (tid, "rename") in decided))
        delta = float(row["traffic_share"]) - float(prev["traffic_share"])
        if abs(delta) >= 0.0005:
            found.append((f"share {prev['traffic_share']:.1%} → {row['traffic_share']:.1%} ({delta * 100:+.2f} pp)",
                          tid in survivors or (tid, "merge") in decided))
        for what, review in found:
            out.append({"tool_id": tid, "index": row["index"], "title": row["title"], "what": what, "review": review})
    return out


def diffs(root: Path, data: WeekData, previous: WeekData | None) -> dict:
    """Changes since the previous list version and since last week's list."""
    decisions = reviews.read_all(root)
    versions = list_versions(root)
    by_version = None
    if len(versions) >= 2:
        by_version = {"from": versions[-2], "to": versions[-1],
                      "changes": changes(read_version(root, versions[-2]), read_version(root, versions[-1]),
                                         decisions)}
    by_week = None
    if previous is not None and previous.tools is not None:
        by_week = {"from": previous.week, "to": data.week, "changes": changes(previous.tools, data.tools, decisions)}
    return {"version": by_version, "week": by_week}
