"""Clustering of the actions no label took: DBSCAN without an n×n matrix, and variants.

:class:`ChunkedDBSCAN` gives the labels of
``sklearn.cluster.DBSCAN(metric="cosine", algorithm="brute")`` — same cluster
numbers, same noise, same border assignment — while holding only one
``chunk_size``² float32 block of similarities at a time. Distances are computed
the way scikit-learn computes them (rows normalised in float32, ``d = 1 − x·y``
in float32, a neighbour when ``d <= eps``), so the neighbourhoods agree.

How the labels are reproduced. scikit-learn numbers clusters in order of their
lowest-index core point, grows each cluster depth-first through core points,
and gives a border point to the first cluster that reaches it, i.e. the
lowest-numbered cluster among its core neighbours. Here the core points are
merged into components block by block (a vectorised union-find whose
representative is always the lowest index), clusters are numbered by their
representatives, and each border point takes the smallest cluster number among
its core neighbours. A border point has fewer than ``min_samples`` neighbours,
so its edges are few and can be kept. When every edge is between core points
(``2·min(weight) >= min_samples``, e.g. the paper's ``min_samples=2``) one pass
over the blocks suffices; otherwise a first pass counts neighbours.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.preprocessing import normalize

from core.progress import Progress


def unit_float32(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float32, exactly as scikit-learn's cosine does it."""
    return normalize(np.asarray(X, dtype=np.float32), copy=True)


def _block_pairs(n: int, chunk: int):
    """Upper-triangle blocks (row start, row stop, col start, col stop) of an n×n grid."""
    for a in range(0, n, chunk):
        for b in range(a, n, chunk):
            yield a, min(a + chunk, n), b, min(b + chunk, n)


class _Components:
    """Union-find over points, kept flat: ``rep[i]`` is the lowest index of i's component."""

    def __init__(self, n: int):
        self.rep = np.arange(n)

    def merge(self, left: np.ndarray, right: np.ndarray) -> None:
        """Join the components of each pair (left[k], right[k])."""
        a, b = self.rep[left], self.rep[right]
        cross = a != b
        if not cross.any():
            return
        roots, local = np.unique(np.concatenate([a[cross], b[cross]]), return_inverse=True)
        half = local.size // 2
        graph = sparse.coo_matrix(
            (np.ones(half, dtype=np.int8), (local[:half], local[half:])), shape=(roots.size,) * 2
        )
        _, group = connected_components(graph, directed=False)
        lowest = np.full(group.max() + 1, np.iinfo(np.int64).max)
        np.minimum.at(lowest, group, roots)
        remap = np.arange(self.rep.size)
        remap[roots] = lowest[group]
        self.rep = remap[self.rep]


class ChunkedDBSCAN:
    """DBSCAN on cosine distance, in float32 blocks, with scikit-learn's exact labels.

    Parameters
    ----------
    eps : float, default=0.5
        Neighbourhood radius in cosine distance ``d = 1 − cos`` (a neighbour when ``d <= eps``).
    min_samples : int, default=2
        Weighted neighbourhood size (the point included) that makes a core point.
    chunk_size : int, default=4096
        Rows per block; memory is about ``5 · chunk_size²`` bytes.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster number per point, −1 for noise.
    core_sample_indices_ : ndarray
        Indices of the core points.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    >>> ChunkedDBSCAN(eps=0.1, min_samples=2).fit(X).labels_
    array([ 0,  0, -1, -1])
    """

    def __init__(self, eps: float = 0.5, min_samples: int = 2, chunk_size: int = 4096):
        self.eps = eps
        self.min_samples = min_samples
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "ChunkedDBSCAN":
        """Cluster the rows of ``X``; ``sample_weight`` counts duplicates (sklearn's meaning)."""
        n, weight = X.shape[0], sample_weights(sample_weight, X.shape[0])
        if n == 0:
            self.labels_, self.core_sample_indices_ = np.empty(0, np.int64), np.empty(0, np.int64)
            return self
        X = unit_float32(X)
        one_pass = 2 * weight.min() >= self.min_samples
        core = None if one_pass else self._neighbour_weight(X, weight) >= self.min_samples
        degree, components, border = self._link(X, weight, core)
        if core is None:
            core = degree >= self.min_samples
        self.labels_ = self._label(core, components.rep, border)
        self.core_sample_indices_ = np.flatnonzero(core)
        return self

    def _blocks(self, X: np.ndarray, what: str, settled=None, components: "_Components | None" = None):
        """Yield (rows, cols, neighbour mask, float32 buffer) for each upper block.

        ``settled()`` marks points whose core status is already known; with
        ``components`` they must also sit in the block's largest component. A pair
        of two settled points cannot change the labels, so it is not computed and
        reads as "not a neighbour". When DBSCAN chains, most blocks are skipped.
        """
        n, chunk = X.shape[0], self.chunk_size
        progress = Progress(what, total=n * (n + 1) // 2, unit="pairs", every=10.0)
        for a, a2, b, b2 in _block_pairs(n, chunk):
            rows, cols = slice(a, a2), slice(b, b2)
            skip_r, skip_c = _skippable(settled, components, rows, cols)
            if not (skip_r.all() and skip_c.all()):
                sim = _similarities(X, rows, cols, skip_r, skip_c)
                np.subtract(np.float32(1), sim, out=sim)
                yield rows, cols, sim <= self.eps, sim
            progress.update((a2 - a) * (b2 - b) if a != b else (a2 - a) * (a2 - a + 1) // 2)
        progress.close()

    def _neighbour_weight(self, X: np.ndarray, weight: np.ndarray) -> np.ndarray:
        degree = np.zeros(X.shape[0])
        known = lambda: degree >= self.min_samples  # noqa: E731 - read at each block
        for rows, cols, mask, buf in self._blocks(X, "dbscan: count neighbours", known):
            _accumulate(degree, rows, cols, mask, buf, weight)
        return degree

    def _link(self, X: np.ndarray, weight: np.ndarray, core: np.ndarray | None):
        """Merge core-core edges; keep core-border edges. ``core=None``: all edges are core."""
        n = X.shape[0]
        degree, components, border = np.zeros(n), _Components(n), []
        known = (lambda: degree >= self.min_samples) if core is None else (lambda: core)
        for rows, cols, mask, buf in self._blocks(X, "dbscan: link neighbours", known, components):
            if core is None:
                _accumulate(degree, rows, cols, mask, buf, weight)
                links = mask
            else:
                core_r, core_c = core[rows][:, None], core[cols][None, :]
                links = mask & core_r & core_c
                r, c = _nonzero(mask & ~core_r & core_c)  # border row, core column
                border.append((r + rows.start, c + cols.start))
                r, c = _nonzero(mask & core_r & ~core_c)  # core row, border column
                border.append((c + cols.start, r + rows.start))
            links &= components.rep[rows][:, None] != components.rep[cols][None, :]
            r, c = _nonzero(links)
            if r.size:
                components.merge(r + rows.start, c + cols.start)
        return degree, components, border

    @staticmethod
    def _label(core: np.ndarray, rep: np.ndarray, border: list) -> np.ndarray:
        labels = np.full(core.size, -1, dtype=np.int64)
        reps = np.unique(rep[core])
        labels[core] = np.searchsorted(reps, rep[core])
        if border:
            point = np.concatenate([p for p, _ in border])
            neighbour = np.concatenate([q for _, q in border])
            best = np.full(core.size, np.iinfo(np.int64).max)
            np.minimum.at(best, point, labels[neighbour])
            takes = (~core) & (best < np.iinfo(np.int64).max)
            labels[takes] = best[takes]
        return labels


def _skippable(settled, components, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a block whose pairs among themselves need no computing."""
    if settled is None:
        return np.zeros(rows.stop - rows.start, bool), np.zeros(cols.stop - cols.start, bool)
    known = settled()
    skip_r, skip_c = known[rows].copy(), known[cols].copy()
    if components is not None and (skip_r.any() or skip_c.any()):
        rep_r, rep_c = components.rep[rows], components.rep[cols]
        values, counts = np.unique(np.concatenate([rep_r[skip_r], rep_c[skip_c]]), return_counts=True)
        largest = values[np.argmax(counts)]
        skip_r &= rep_r == largest
        skip_c &= rep_c == largest
    return skip_r, skip_c


def _similarities(X: np.ndarray, rows: slice, cols: slice, skip_r: np.ndarray, skip_c: np.ndarray) -> np.ndarray:
    """Cosine similarities of a block, NaN for the pairs of two skippable points."""
    if not (skip_r.any() and skip_c.any()):
        return X[rows] @ X[cols].T
    sim = np.full((skip_r.size, skip_c.size), np.nan, dtype=np.float32)
    keep_r, keep_c, only_r = np.flatnonzero(~skip_r), np.flatnonzero(~skip_c), np.flatnonzero(skip_r)
    if keep_r.size:
        sim[keep_r] = X[rows][keep_r] @ X[cols].T
    if keep_c.size:
        sim[np.ix_(only_r, keep_c)] = X[rows][only_r] @ X[cols][keep_c].T
    return sim


def sample_weights(sample_weight, n: int) -> np.ndarray:
    """``sample_weight`` as float64, or ones (every point counts once)."""
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a 2-D mask (several times faster than ``np.nonzero``)."""
    flat = np.flatnonzero(mask)
    return np.divmod(flat, mask.shape[1])


def _accumulate(degree, rows, cols, mask, buf, weight) -> None:
    """Add each point's weighted neighbour count within this block (both sides if off-diagonal)."""
    np.copyto(buf, mask)
    degree[rows] += buf @ weight[cols].astype(np.float32)
    if rows != cols:
        degree[cols] += buf.T @ weight[rows].astype(np.float32)
