"""Everything the report shows, gathered from the week's tables and run manifest.

Each part is optional: a missing table or metric becomes None, which the page
shows as "not available" instead of failing. Names and shares are the app's
(``intentmine serve`` reads them from here): a node is "subcategory (main category)",
and week-over-week changes are in share of the week's sampled no-click queries, the
measure of the tool table, so the tree and the tools no longer disagree.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.cluster.map import main_key
from jobs.common.storage import optional_table, read_manifest
from jobs.registry.tools import aux_key, sub_key
from jobs.tools.groups import labelled_signals
from jobs.tools.support import strata_from_samples, stratified_share

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
        name = {"main": n.main_category, "sub": f"{n.subcategory} ({n.main_category})",
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
    elif rules_only(manifest.models):
        cost = "0 (rules backend: no model calls)"
    return stages, hit_rate, cost


def rules_only(models: dict[str, str]) -> bool:
    """Whether the run's analysis used only the deterministic rules analyst (which costs nothing)."""
    analysis = [v for k, v in models.items() if k.startswith("analyse")]
    return bool(analysis) and all(str(v).startswith("rules") for v in analysis)


# ---------------------------------------------------------------- the app's names and shares (one owner)
def node_name(key: str) -> str:
    """A plain name for a node key: 'colour condition (search condition refinement)'."""
    parts = key.split("::")
    if parts[0] == "sub":
        return f"{parts[2]} ({parts[1]})"
    if parts[0] == "aux":
        return f"auxiliary cluster #{parts[1]}"
    if parts[0] == "main":
        return parts[1]
    return "noise (no cluster)"


def signal_nodes(assignments, signals, include_other: bool) -> pd.DataFrame:
    """The week's signals with their tool-level node key (``node``: sub, aux or "noise") and ``main`` key."""
    rows = labelled_signals(assignments, signals, include_other)
    rows["node"] = rows["group_key"]
    noise = rows["main_category"].isna() & (rows["aux_cluster"].fillna(-1) == -1)
    rows.loc[noise, "node"] = "noise"
    other = rows["node"].isna() & rows["main_category"].notna()  # "other" buckets when they are not tools
    rows.loc[other, "node"] = [sub_key(m, s if isinstance(s, str) else "other")
                               for m, s in zip(rows.loc[other, "main_category"], rows.loc[other, "subcategory"])]
    rows["main"] = [main_key(m) if isinstance(m, str) else None for m in rows["main_category"]]
    return rows


def node_shares(rows: pd.DataFrame, samples: pd.DataFrame | None, confidence: float) -> pd.DataFrame:
    """Per node key (leaf and main): actions, queries, share of sampled queries with its interval."""
    if not len(rows):
        return pd.DataFrame(columns=["size", "n_queries", "share", "low", "high"])
    long = pd.concat([rows[["node", "query_id"]].rename(columns={"node": "key"}),
                      rows[["main", "query_id"]].rename(columns={"main": "key"})]).dropna()
    sizes = long.groupby("key").agg(size=("query_id", "size"), n_queries=("query_id", "nunique"))
    strata_input = samples[["query_id", "main_category", "category_population"]] if samples is not None else None
    membership, strata = strata_from_samples(strata_input, rows["query_id"])
    pairs = long.drop_duplicates().merge(membership, on="query_id", how="inner")
    hits = pairs.groupby(["key", "stratum"]).size().rename("k").reset_index().rename(columns={"key": "tool_id"})
    return sizes.join(stratified_share(hits, strata, confidence), how="left")


def app_key(level: str, main, sub, aux) -> str:
    """The app's key of a cluster-tree node (``main::…``, ``sub::…::…``, ``aux::n``, ``noise``)."""
    if level == "main":
        return main_key(main)
    if level == "sub":
        return sub_key(main, sub)
    return "noise" if level == "noise" else aux_key(aux)


def query_share_changes(root: Path, week: str, before: str, include_other: bool, confidence: float
                        ) -> tuple[list, dict[str, float]] | None:
    """Change since ``before`` in share of no-click queries (the tools' measure) of every node, by app key,
    and the biggest movers among main categories and subcategories, named as the app names them."""
    shares = []
    for w in (week, before):
        a, s = optional_table(root, "assignments", w), optional_table(root, "signals", w)
        if a is None or s is None:
            return None
        samples = optional_table(root, "samples", w, ["query_id", "main_category", "category_population"])
        rows = signal_nodes(a, s, include_other)
        shares.append(node_shares(rows, samples.to_pandas() if samples is not None else None, confidence)["share"])
    now, prev = shares
    change = {k: float(now[k]) - float(prev.get(k, 0.0)) for k in now.index}
    keys = sorted((k for k in now.index if k.startswith(("main::", "sub::"))), key=lambda k: -abs(change[k]))
    movers = [{"name": node_name(k), "share": float(now[k]), "change": change[k]}
              for k in keys[:CHANGES_SHOWN] if abs(change[k]) > 1e-12]
    return movers, change
