"""Everything the report shows, gathered from the week's tables and run manifest.

Each part is optional: a missing table or metric becomes None, which the page
shows as "not available" instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.common.storage import optional_table, read_manifest

AUX_SHOWN = 30
CHANGES_SHOWN = 8


def node_key(level: str, main, sub, aux) -> str:
    return f"{level}|{'' if main is None or pd.isna(main) else main}|" \
           f"{'' if sub is None or pd.isna(sub) else sub}|{'' if aux is None or pd.isna(aux) else int(aux)}"


def load_nodes(root: Path, week: str) -> pd.DataFrame | None:
    """The week's cluster tree, as the cluster stage published it (``clusters``), or None."""
    nodes = optional_table(root, "clusters", week)
    return nodes.to_pandas() if nodes is not None else None


def _label(aux) -> str:
    return "" if aux is None or pd.isna(aux) else str(int(aux))


def tree(nodes: pd.DataFrame) -> tuple[list[dict], dict]:
    """Top-level blocks (main categories, auxiliary clusters, noise) with children, and node details."""
    details, blocks = {}, []
    for n in nodes.itertuples(index=False):
        key = node_key(n.level, n.main_category, n.subcategory, n.aux_cluster)
        name = {"main": n.main_category, "sub": f"{n.main_category} › {n.subcategory}",
                "aux": f"auxiliary cluster #{_label(n.aux_cluster)}", "noise": "noise"}[n.level]
        details[key] = {"name": name, "size": int(n.size), "n_queries": int(n.n_queries),
                        "examples": list(n.examples), "first_week": n.first_week,
                        "change": getattr(n, "change", None)}
    mains = nodes[nodes["level"] == "main"].sort_values("size", ascending=False)
    for m in mains.itertuples(index=False):
        subs = nodes[(nodes["level"] == "sub") & (nodes["main_category"] == m.main_category)]
        blocks.append({"key": node_key("main", m.main_category, None, None), "name": m.main_category,
                       "value": int(m.size), "children": [
                           {"key": node_key("sub", s.main_category, s.subcategory, None), "name": s.subcategory,
                            "value": int(s.size)} for s in subs.itertuples(index=False) if s.size > 0]})
    aux = nodes[nodes["level"] == "aux"].sort_values("size", ascending=False)
    if len(aux):
        children = [{"key": node_key("aux", None, None, a.aux_cluster), "name": f"#{_label(a.aux_cluster)}",
                     "value": int(a.size)} for a in aux.head(AUX_SHOWN).itertuples(index=False)]
        rest = int(aux["size"].iloc[AUX_SHOWN:].sum())
        if rest:
            children.append({"key": "", "name": f"{len(aux) - AUX_SHOWN} smaller clusters", "value": rest})
        blocks.append({"key": "", "name": "auxiliary clusters", "value": int(aux["size"].sum()),
                       "children": children, "color": "#7a869a"})
    noise = nodes[nodes["level"] == "noise"]
    if len(noise) and int(noise["size"].sum()):
        blocks.append({"key": node_key("noise", None, None, -1), "name": "noise",
                       "value": int(noise["size"].sum()), "children": [], "color": "#b8bec9"})
    return blocks, details


def with_changes(nodes: pd.DataFrame, previous: pd.DataFrame | None) -> tuple[pd.DataFrame, list | None]:
    """Add each node's change in share of all actions since last week; the biggest movers."""
    nodes = nodes.copy()
    total = nodes.loc[nodes["level"].isin(["main", "aux", "noise"]), "size"].sum() or 1
    nodes["share"] = nodes["size"] / total
    nodes["change"] = None
    if previous is None or not len(previous):
        return nodes, None
    prev_total = previous.loc[previous["level"].isin(["main", "aux", "noise"]), "size"].sum() or 1
    prev = {node_key(p.level, p.main_category, p.subcategory, p.aux_cluster): p.size / prev_total
            for p in previous.itertuples(index=False)}
    keys = [node_key(n.level, n.main_category, n.subcategory, n.aux_cluster) for n in nodes.itertuples(index=False)]
    nodes["change"] = [s - prev.get(k, 0.0) for k, s in zip(keys, nodes["share"])]
    movers = nodes[nodes["level"].isin(["main", "sub"])].copy()
    movers["name"] = [m if lvl == "main" else f"{m} › {s}" for lvl, m, s
                      in zip(movers["level"], movers["main_category"], movers["subcategory"])]
    movers = movers.reindex(movers["change"].abs().sort_values(ascending=False).index).head(CHANGES_SHOWN)
    return nodes, [{"name": r.name, "share": float(r.share), "change": float(r.change)}
                   for r in movers.itertuples(index=False) if abs(r.change) > 1e-12]


def aux_summary(nodes: pd.DataFrame, examples: int) -> dict:
    aux = nodes[nodes["level"] == "aux"].sort_values("size", ascending=False)
    noise = nodes[nodes["level"] == "noise"]
    return {"clusters": int(len(aux)), "aux_actions": int(aux["size"].sum()),
            "noise_actions": int(noise["size"].sum()),
            "top": [{"label": int(a.aux_cluster), "size": int(a.size), "examples": list(a.examples)[:examples]}
                    for a in aux.head(10).itertuples(index=False)]}


def manifest_parts(root: Path, week: str, run_id: str | None) -> tuple[list | None, float | None, str | None]:
    """(stage timings, cache hit rate, model cost text) from the run manifest."""
    manifest = read_manifest(root, week, run_id) if run_id else None
    if manifest is None:
        return None, None, None
    stages = [{"stage": s.stage, "seconds": s.seconds, "tables": s.tables} for s in manifest.stages]
    hit_rate = next((v for s in manifest.stages for k, v in s.metrics.items() if "hit_rate" in k), None)
    tokens = {k: v for s in manifest.stages for k, v in s.metrics.items() if k.endswith("tokens")}
    costs = {k: v for s in manifest.stages for k, v in s.metrics.items() if "cost" in k}
    cost = None
    if costs:
        cost = ", ".join(f"{k} {v:,.2f}" for k, v in costs.items())
    elif tokens:
        cost = ", ".join(f"{k.replace('_', ' ')} {v:,.0f}" for k, v in tokens.items())
    return stages, hit_rate, cost
