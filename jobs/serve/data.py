"""What the app shows, read from the published tables (the latest run of each, per week).

One :class:`WeekData` per week, rebuilt when a table of the week gets a new run.
Shares are the tools stage's: the share of the week's sampled no-click queries with at
least one action in the node (stratified Wilson interval), so a subcategory's share in
the tree and its tool's share on the review page are the same number unless a review
decision (a merge) joined groups, which the review page says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jobs.cluster.map import main_key
from jobs.common.storage import latest_run, optional_table, read_manifest
from jobs.registry import tools as reg
from jobs.report.data import manifest_parts, node_name, node_shares, signal_nodes

WEEK_TABLES = ("samples", "analyses", "signals", "assignments", "clusters", "cluster_map", "tools")


def weeks(root: Path) -> list[str]:
    """Weeks with a published cluster tree, oldest first."""
    folder = Path(root) / "clusters"
    found = [p.name.removeprefix("week=") for p in folder.glob("week=*")] if folder.is_dir() else []
    return sorted(w for w in found if latest_run(root, "clusters", w))


@dataclass
class WeekData:
    week: str
    rows: pd.DataFrame  # one per signal: query_id, order, action, info, reasoning, node keys, tool_id
    samples: pd.DataFrame | None
    analyses: pd.DataFrame | None
    nodes: pd.DataFrame | None
    points: pd.DataFrame | None
    tools: pd.DataFrame | None
    shares: pd.DataFrame = field(default_factory=pd.DataFrame)


def load_week(root: Path, week: str, registry: reg.ToolRegistry, include_other: bool, confidence: float) -> WeekData:
    assignments, signals = optional_table(root, "assignments", week), optional_table(root, "signals", week)
    samples = optional_table(root, "samples", week)
    rows = pd.DataFrame(columns=["query_id", "order", "action", "info", "reasoning", "group_key", "node", "main",
                                 "tool_id"])
    if assignments is not None and signals is not None:
        rows = signal_nodes(assignments, signals, include_other)
        resolved = {k: reg.resolve(registry, k) for k in rows["group_key"].dropna().unique()}
        rows["tool_id"] = rows["group_key"].map(resolved)
    frame = lambda t: t.to_pandas() if t is not None else None  # noqa: E731
    data = WeekData(week, rows, frame(samples), frame(optional_table(root, "analyses", week)),
                    frame(optional_table(root, "clusters", week)), frame(optional_table(root, "cluster_map", week)),
                    frame(optional_table(root, "tools", week)))
    data.shares = node_shares(rows, data.samples, confidence)
    return data


def tree(data: WeekData) -> list[dict]:
    """Main categories (largest first) with their subcategories, then auxiliary clusters, then noise."""
    if data.nodes is None:
        return []
    s = data.shares

    def item(key: str, children=()):
        row = s.loc[key] if key in s.index else None
        return {"key": key, "name": node_name(key).split(" (")[0] if key.startswith("sub::") else node_name(key),
                "size": int(row["size"]) if row is not None else 0,
                "n_queries": int(row["n_queries"]) if row is not None else 0,
                "share": None if row is None or pd.isna(row["share"]) else float(row["share"]),
                "low": None if row is None or pd.isna(row["low"]) else float(row["low"]),
                "high": None if row is None or pd.isna(row["high"]) else float(row["high"]),
                "children": sorted(children, key=lambda c: -c["size"])}

    blocks = []
    for main in data.rows["main_category"].dropna().unique():
        subs = data.rows.loc[data.rows["main_category"] == main, "node"].dropna().unique()
        blocks.append(item(main_key(main), [item(k) for k in subs]))
    blocks.sort(key=lambda b: -b["size"])
    aux = [item(k) for k in data.rows["node"].dropna().unique() if k.startswith("aux::")]
    if aux:
        blocks.append({**item("aux"), "name": "auxiliary clusters", "size": sum(a["size"] for a in aux),
                       "children": sorted(aux, key=lambda c: -c["size"]), "share": None})
    if "noise" in s.index:
        blocks.append(item("noise"))
    return blocks


def queries_of(data: WeekData, key: str | None = None, tool_id: str | None = None, text: str | None = None,
               limit: int = 200) -> pd.DataFrame:
    """The signals of a node, a tool or matching a search text (action, info or reasoning)."""
    rows = data.rows
    if key is not None:
        rows = rows[(rows["node"] == key) | (rows["main"] == key)]
    if tool_id is not None:
        rows = rows[rows["tool_id"] == tool_id]
    if text:
        needle = text.lower()
        hit = pd.Series(False, index=rows.index)
        for col in ("action", "info", "reasoning", "query_id"):
            hit |= rows[col].astype(str).str.lower().str.contains(needle, regex=False)
        rows = rows[hit]
    return rows.sort_values(["query_id", "order"]).head(limit)


def query_detail(data: WeekData, query_id: str) -> dict | None:
    """One query: its sample row (photo, products), the model's outputs and its signals."""
    signals = data.rows[data.rows["query_id"] == query_id].sort_values("order")
    sample = data.samples[data.samples["query_id"] == query_id] if data.samples is not None else pd.DataFrame()
    if not len(signals) and not len(sample):
        return None
    out = {"query_id": query_id, "signals": signals.to_dict("records"), "products": [], "image_uri": None,
           "vlm": None, "llm": None, "main_category": None}
    if len(sample):
        first = sample.iloc[0]
        out.update(image_uri=first["image_uri"], main_category=first["main_category"],
                   products=sorted(list(first["products"]), key=lambda p: p["rank"]))
    if data.analyses is not None:
        for row in data.analyses[data.analyses["query_id"] == query_id].itertuples(index=False):
            try:
                parsed = json.loads(row.output_json)
            except (TypeError, ValueError):
                parsed = {"raw": row.output_json}
            out[row.stage] = {"output": parsed, "status": row.status, "backend": row.backend, "model": row.model}
    return out


def stats(root: Path, week: str) -> dict:
    """Cache hit rate, model cost and stage timings of the week's latest run (the report's numbers)."""
    run_id = latest_run(root, "tools", week) or latest_run(root, "clusters", week)
    stages, hit_rate, cost = manifest_parts(root, week, run_id) if run_id else (None, None, None)
    manifest = read_manifest(root, week, run_id) if run_id else None
    return {"run_id": run_id, "stages": stages or [], "cache_hit_rate": hit_rate, "model_cost": cost,
            "logs": manifest.inputs.get("logs") if manifest is not None else None}


def trends(root: Path, all_weeks: list[str]) -> tuple[list[str], list[dict]]:
    """Every tool's traffic share in every published week (None when not listed that week)."""
    per_week = {}
    for week in all_weeks:
        table = optional_table(root, "tools", week, ["tool_id", "index", "title", "traffic_share", "status",
                                                     "merged_into"])
        if table is not None:
            per_week[week] = {r["tool_id"]: r for r in table.to_pylist()}
    shown = list(per_week)
    ids = {t: r for week in shown for t, r in per_week[week].items()}
    out = [{"tool_id": t, "index": r["index"], "title": r["title"], "status": r["status"],
            "merged_into": r["merged_into"],
            "shares": [per_week[w].get(t, {}).get("traffic_share") for w in shown]}
           for t, r in sorted(ids.items(), key=lambda kv: kv[1]["index"])]
    return shown, out
