"""The week's tool rows: registry entries joined with this week's support and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from jobs.cluster.tree import top_values
from jobs.registry import tools as reg
from jobs.tools.support import stratified_share
from schemas.arrow import arrow_schema
from schemas.tables import Tool


def week_groups(rows: pd.DataFrame) -> list[dict]:
    """One dict per group key seen this week: kind, names, size and a default title."""
    keyed = rows[rows["group_key"].notna()]
    if not len(keyed):
        return []
    first = keyed.groupby("group_key", sort=True).agg(
        kind=("kind", "first"), main_category=("main_category", "first"),
        subcategory=("subcategory", "first"), aux_cluster=("aux_cluster", "first"),
        size=("action", "size"))
    top_action = top_values(keyed, "group_key", "action", 1).str[0]
    first["title"] = np.where(first["kind"] == "aux", top_action.reindex(first.index), first["subcategory"])
    groups = []
    for key, g in first.iterrows():
        aux = None if pd.isna(g["aux_cluster"]) else int(g["aux_cluster"])
        main = None if pd.isna(g["main_category"]) else g["main_category"]
        sub = None if pd.isna(g["subcategory"]) else g["subcategory"]
        groups.append({"key": key, "kind": g["kind"], "main_category": main, "subcategory": sub,
                       "aux_cluster": aux, "size": int(g["size"]), "title": str(g["title"])})
    return groups


def tool_support(rows: pd.DataFrame, membership: pd.DataFrame, strata: pd.DataFrame,
                 examples: int, confidence: float) -> pd.DataFrame:
    """Per tool id: n_actions, n_queries, share with bounds, example actions and infos."""
    mapped = rows[rows["tool_id"].notna()]
    support = mapped.groupby("tool_id").agg(n_actions=("action", "size"), n_queries=("query_id", "nunique"))
    support["example_actions"] = top_values(mapped, "tool_id", "action", examples)
    support["example_infos"] = top_values(mapped, "tool_id", "info", examples)
    pairs = mapped[["tool_id", "query_id"]].drop_duplicates().merge(membership, on="query_id", how="inner")
    hits = pairs.groupby(["tool_id", "stratum"]).size().rename("k").reset_index()
    shares = stratified_share(hits, strata, confidence)
    return support.join(shares, how="left")


def describe(tool: reg.Tool, infos: list[str]) -> tuple[str, str, str]:
    """(description, expected input, expected output) written from the group and its infos."""
    title = tool.title
    if tool.kind == "sub":
        what = f"A search-pipeline step for '{title}' (cluster {tool.group})"
    else:
        what = f"A search-pipeline step for '{title}' (auxiliary cluster {tool.aux_cluster})"
    description = (f"{what}: the online planner calls it when a visual search ends without a click "
                   f"and the reasoner asks for this operation.")
    example = "; ".join(f"'{i}'" for i in infos[:3]) if infos else "none seen this week"
    expected_input = f"the query image, its retrieved products and an Info string (e.g. {example})"
    expected_output = f"the retrieved products re-filtered or re-ranked by '{title}' using that Info"
    return description, expected_input, expected_output


def tool_rows(registry: reg.ToolRegistry, support: pd.DataFrame, previous: pd.DataFrame | None,
              run_id: str) -> pa.Table:
    """Every registered tool (retired ones included) as rows of the ``tools`` table, by index."""
    prev = previous.set_index("tool_id")["traffic_share"] if previous is not None and len(previous) else {}
    records = []
    for tool in registry.by_index():
        seen = tool.tool_id in support.index
        s = support.loc[tool.tool_id] if seen else None
        infos = list(s["example_infos"]) if seen and isinstance(s["example_infos"], list) else []
        actions = list(s["example_actions"]) if seen and isinstance(s["example_actions"], list) else []
        share = float(s["share"]) if seen and not pd.isna(s["share"]) else 0.0
        description, expected_input, expected_output = describe(tool, infos)
        prev_share = prev.get(tool.tool_id) if len(prev) else None
        prev_share = None if prev_share is None or pd.isna(prev_share) else float(prev_share)
        records.append({
            "tool_id": tool.tool_id, "index": tool.index, "title": tool.title,
            "description": description, "expected_input": expected_input, "expected_output": expected_output,
            "kind": tool.kind, "main_category": tool.main_category, "subcategory": tool.subcategory,
            "aux_cluster": tool.aux_cluster,
            "n_actions": int(s["n_actions"]) if seen else 0, "n_queries": int(s["n_queries"]) if seen else 0,
            "traffic_share": share,
            "traffic_share_low": float(s["low"]) if seen and not pd.isna(s["low"]) else 0.0,
            "traffic_share_high": float(s["high"]) if seen and not pd.isna(s["high"]) else 0.0,
            "prev_traffic_share": prev_share,
            "share_change": None if prev_share is None else share - prev_share,
            "example_actions": actions, "example_infos": infos,
            "first_week": tool.first_week, "last_week": tool.last_week,
            "status": tool.status, "merged_into": tool.merged_into,
            "list_version": 1, "run_id": run_id,
        })
    return pa.Table.from_pylist(records, schema=arrow_schema(Tool))
