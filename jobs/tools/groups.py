"""The week's fine-grained groups: signals joined to their cluster, a group key per row,
top examples per group, and the cluster-tree nodes. Everything is a pandas group-by.

A group key names a group independently of any tool registry:
``sub::<main>::<subcategory>`` for a subcategory, ``aux::<label>`` for an auxiliary
DBSCAN cluster. Names are normalised (lower case, single spaces) so a change of
case or spacing in the ontology does not make a new tool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.tables import ClusterNode

NOISE = -1
OTHER = "other"


def normalise(text: str) -> str:
    """Lower case, single spaces: the form names take inside group keys."""
    return " ".join(str(text).lower().split())


def sub_key(main: str, sub: str) -> str:
    return f"sub::{normalise(main)}::{normalise(sub)}"


def aux_key(label: int) -> str:
    return f"aux::{int(label)}"


def labelled_signals(assignments: pa.Table, signals: pa.Table, include_other: bool) -> pd.DataFrame:
    """One row per clustered signal with its info, reasoning and ``group_key``.

    ``group_key`` is null for noise and, unless ``include_other``, for "other" buckets.
    ``kind`` is "sub", "aux" or null.
    """
    cols = ["query_id", "order", "action", "main_category", "subcategory", "aux_cluster"]
    left = assignments.select(cols).to_pandas()
    right = signals.select(["query_id", "order", "info", "reasoning"]).to_pandas()
    rows = left.merge(right, on=["query_id", "order"], how="left", validate="one_to_one")
    rows["info"] = rows["info"].fillna("")
    rows["reasoning"] = rows["reasoning"].fillna("")
    groups = rows.groupby(["main_category", "subcategory", "aux_cluster"], dropna=False, sort=False)
    ids = groups.ngroup().to_numpy()
    combos = groups.size().reset_index()[["main_category", "subcategory", "aux_cluster"]]
    keys, kinds = zip(*[_combo_key(m, s, a, include_other) for m, s, a in combos.itertuples(index=False)]) \
        if len(combos) else ((), ())
    rows["group_key"] = np.asarray(keys, dtype=object)[ids] if len(combos) else None
    rows["kind"] = np.asarray(kinds, dtype=object)[ids] if len(combos) else None
    return rows


def _combo_key(main, sub, aux, include_other: bool) -> tuple[str | None, str | None]:
    if aux is not None and not pd.isna(aux):
        return (aux_key(aux), "aux") if int(aux) != NOISE else (None, None)
    if main is None or pd.isna(main):
        return None, None
    sub = OTHER if sub is None or pd.isna(sub) else sub
    if normalise(sub) == OTHER and not include_other:
        return None, None
    return sub_key(main, sub), "sub"


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
    """The cluster tree: main and sub nodes, one node per auxiliary cluster, one noise node.

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
    from schemas.arrow import arrow_schema

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
