"""The cluster tree of a week: its one builder (the cluster stage publishes it as ``clusters``).

Nodes: one per main category and per subcategory, one per auxiliary DBSCAN cluster and
one for the noise, each with its size, distinct queries, most frequent example actions
and the week it first appeared (carried from last week's tree). Everything is a pandas
group-by over the week's assignments.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from clustering.ontology import OTHER
from schemas.arrow import arrow_schema
from schemas.tables import ClusterNode

NOISE = -1


def top_values(rows: pd.DataFrame, by: str | list[str], column: str, k: int) -> pd.Series:
    """The ``k`` most frequent non-empty values of ``column`` per group, ties by value."""
    by = [by] if isinstance(by, str) else list(by)
    present = rows[rows[column].notna() & (rows[column] != "")]
    counts = present.groupby(by + [column], sort=False, dropna=False).size().reset_index(name="_n")
    counts = counts.sort_values(by + ["_n", column], ascending=[True] * len(by) + [False, True])
    top = counts.groupby(by, sort=False, dropna=False).head(k)
    return top.groupby(by, sort=False, dropna=False)[column].agg(list)


def cluster_nodes(rows: pd.DataFrame, week: str, run_id: str, examples: int,
                  previous: pd.DataFrame | None = None) -> pa.Table:
    """The cluster tree of ``rows`` (query_id, action, main_category, subcategory, aux_cluster).

    ``first_week`` comes from ``previous`` (last week's nodes) when the node existed.
    """
    assigned = rows[rows["main_category"].notna()].copy()
    assigned["subcategory"] = assigned["subcategory"].fillna(OTHER)
    aux = rows[rows["main_category"].isna() & rows["aux_cluster"].notna()]
    parts = [
        _level(assigned, ["main_category"], "main", examples),
        _level(assigned, ["main_category", "subcategory"], "sub", examples),
        _level(aux[aux["aux_cluster"] != NOISE], ["aux_cluster"], "aux", examples),
        _level(aux[aux["aux_cluster"] == NOISE], ["aux_cluster"], "noise", examples),
    ]
    nodes = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=["level", "main_category", "subcategory", "aux_cluster", "size",
                                   "n_queries", "examples"])
    for col in ("main_category", "subcategory", "aux_cluster"):
        if col not in nodes:
            nodes[col] = None
    nodes["first_week"] = week
    if previous is not None and len(previous):
        nodes = _carry_first_week(nodes, previous)
    nodes["run_id"] = run_id
    nodes["aux_cluster"] = nodes["aux_cluster"].astype("Int64")
    schema = arrow_schema(ClusterNode)
    return pa.Table.from_pandas(nodes[schema.names], schema=schema, preserve_index=False)


def _level(rows: pd.DataFrame, by: list[str], level: str, examples: int) -> pd.DataFrame:
    if not len(rows):
        return pd.DataFrame()
    grouped = rows.groupby(by, sort=True, dropna=False)
    nodes = grouped.agg(size=("action", "size"), n_queries=("query_id", "nunique")).reset_index()
    nodes = nodes.merge(top_values(rows, by, "action", examples).rename("examples").reset_index(),
                        on=by, how="left")
    nodes["examples"] = nodes["examples"].apply(lambda v: v if isinstance(v, list) else [])
    nodes["level"] = level
    return nodes


def _carry_first_week(nodes: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    key = ["level", "main_category", "subcategory", "aux_cluster"]
    prev = previous[key + ["first_week"]].rename(columns={"first_week": "_prev"})
    prev["aux_cluster"] = prev["aux_cluster"].astype("Int64")
    nodes["aux_cluster"] = nodes["aux_cluster"].astype("Int64")
    merged = nodes.merge(prev.drop_duplicates(key), on=key, how="left")
    merged["first_week"] = merged["_prev"].fillna(merged["first_week"])
    return merged.drop(columns="_prev")
