"""The 2-D map of a week's clusters (``cluster_map``), built by the cluster stage.

Each node of the tree (main category, subcategory, auxiliary cluster; not the noise)
gets a centroid: the count-weighted mean embedding of its actions (one sparse
node × distinct-text product, no per-row loop). The map is the first two principal
axes of the centroids (an eigendecomposition of their 384 × 384 scatter matrix:
cheap, deterministic up to sign, which is fixed), scaled to [0, 1]. Each sub or aux node also lists its nearest
sub/aux nodes by centroid cosine: the app's "suggested duplicates" for tools.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from clustering.ontology import OTHER
from clustering.pipeline import distinct_actions
from jobs.cluster.tree import NOISE
from jobs.registry.tools import aux_key, name_key, sub_key
from schemas.arrow import arrow_schema
from schemas.tables import ClusterMapPoint

NEIGHBOURS = 5


def main_key(main: str) -> str:
    return f"main::{name_key(main)}"


def row_nodes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per row: its tool-level node (sub or aux key) and its main node key (null when none)."""
    main = frame["main_category"]
    assigned = main.notna()
    sub = frame["subcategory"].where(frame["subcategory"].notna(), OTHER)
    aux = pd.array(frame["aux_cluster"], dtype="Int64")
    in_aux = (~assigned.to_numpy()) & (aux.fillna(NOISE).to_numpy() != NOISE)
    leaf = np.full(len(frame), None, dtype=object)
    leaf[assigned.to_numpy()] = [sub_key(m, s) for m, s in zip(main[assigned], sub[assigned])]
    leaf[in_aux] = [aux_key(a) for a in aux[in_aux]]
    top = np.full(len(frame), None, dtype=object)
    top[assigned.to_numpy()] = [main_key(m) for m in main[assigned]]
    return pd.DataFrame({"leaf": leaf, "main": top})


def _centroids(keys: np.ndarray, text_code: np.ndarray, X: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    present = pd.notna(keys)
    codes, names = pd.factorize(pd.Series(keys[present], dtype=object), sort=True)
    if not len(names):
        return [], np.zeros((0, X.shape[1]), np.float32), np.zeros(0, np.int64)
    counts = sparse.coo_matrix((np.ones(len(codes), np.float32), (codes, text_code[present])),
                               shape=(len(names), X.shape[0])).tocsr()
    sizes = np.asarray(counts.sum(axis=1)).ravel().astype(np.int64)
    C = np.asarray(counts @ X, dtype=np.float32) / np.maximum(sizes, 1)[:, None]
    return list(names), C, sizes


def _project(C: np.ndarray) -> np.ndarray:
    """First two principal axes of the rows of C, each scaled to [0, 1] (0.5 when flat)."""
    out = np.full((len(C), 2), 0.5, np.float32)
    if len(C) < 2:
        return out
    centred = (C - C.mean(axis=0)).astype(np.float32)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # d × d (384²): cheap for any number of nodes
    coords = centred @ vectors[:, ::-1][:, :2]
    for j in range(coords.shape[1]):
        col = coords[:, j] * (1 if coords[np.argmax(np.abs(coords[:, j])), j] >= 0 else -1)
        span = col.max() - col.min()
        if span > 1e-9:
            out[:, j] = (col - col.min()) / span
    return out


def _nearest(C: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of each row's ``k`` most similar other rows (chunked)."""
    n = len(C)
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    unit = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    idx, sim = np.zeros((n, k), np.int64), np.zeros((n, k), np.float32)
    for start in range(0, n, chunk):
        block = unit[start:start + chunk] @ unit.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        idx[start:start + chunk], sim[start:start + chunk] = top, np.take_along_axis(block, top, axis=1)
    return idx, sim


def cluster_map(frame: pd.DataFrame, encoder, run_id: str, neighbours: int = NEIGHBOURS) -> pa.Table:
    """The ``cluster_map`` rows of a week's assignments (action, main_category, subcategory, aux_cluster)."""
    data = distinct_actions(frame["action"].tolist())
    X = np.asarray(encoder.encode(data.texts), dtype=np.float32)
    nodes = row_nodes(frame)
    leaf_names, leaf_C, leaf_sizes = _centroids(nodes["leaf"].to_numpy(), data.row_code, X)
    main_names, main_C, main_sizes = _centroids(nodes["main"].to_numpy(), data.row_code, X)
    xy = _project(np.vstack([leaf_C, main_C]))
    near_idx, near_sim = _nearest(leaf_C, neighbours)
    spelling = {name_key(v): v for col in ("main_category", "subcategory")
                for v in frame[col].dropna().unique()} | {OTHER: OTHER}
    records = []
    for i, key in enumerate(leaf_names + main_names):
        leaf = i < len(leaf_names)
        parts = key.split("::")
        level = parts[0] if leaf else "main"
        records.append({
            "key": key, "level": level,
            "main_category": spelling.get(parts[1], parts[1]) if level in ("sub", "main") else None,
            "subcategory": spelling.get(parts[2], parts[2]) if level == "sub" else None,
            "aux_cluster": int(parts[1]) if level == "aux" else None,
            "size": int(leaf_sizes[i] if leaf else main_sizes[i - len(leaf_names)]),
            "x": float(xy[i, 0]), "y": float(xy[i, 1]),
            "neighbours": [leaf_names[j] for j in near_idx[i]] if leaf else [],
            "neighbour_similarity": [float(v) for v in near_sim[i]] if leaf else [],
            "run_id": run_id})
    return pa.Table.from_pylist(records, schema=arrow_schema(ClusterMapPoint))

