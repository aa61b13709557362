"""Fallbacks that do not chain, for the actions no label took (improvements over the paper).

With ε = 0.5 on MiniLM vectors DBSCAN links nearly all leftovers into one giant
cluster. :class:`CappedDBSCAN` re-splits any cluster above a size cap with a
smaller ε (exact :class:`ChunkedDBSCAN` at every level, so it scales the same way);
:class:`HDBSCANFallback` is scikit-learn's HDBSCAN for inputs small enough for it.
"""

from __future__ import annotations

import numpy as np

from clustering.fallback import ChunkedDBSCAN, sample_weights, unit_float32


class CappedDBSCAN:
    """DBSCAN that does not chain: any cluster above a size cap is re-split with a smaller ε.

    Parameters
    ----------
    eps, min_samples : as in :class:`ChunkedDBSCAN` (the first, widest split).
    max_cluster_share : float
        Cap as a share of the points given to ``fit``; the cap is at least ``min_cap``.
    min_cap : int
        Smallest cap, so that small inputs are not shredded.
    eps_shrink : float
        Factor applied to ε at each re-split of an oversized cluster.
    min_eps : float
        Below this ε an oversized cluster is kept as it is.
    chunk_size : int
        Block size for the neighbour search.

    Attributes
    ----------
    labels_ : ndarray, cluster per point numbered by first member, −1 for noise.
    """

    def __init__(self, eps: float = 0.5, min_samples: int = 2, max_cluster_share: float = 0.05,
                 min_cap: int = 50, eps_shrink: float = 0.85, min_eps: float = 0.05,
                 chunk_size: int = 4096):
        self.eps = eps
        self.min_samples = min_samples
        self.max_cluster_share = max_cluster_share
        self.min_cap = min_cap
        self.eps_shrink = eps_shrink
        self.min_eps = min_eps
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "CappedDBSCAN":
        n, weight = X.shape[0], sample_weights(sample_weight, X.shape[0])
        if n == 0:
            self.labels_ = np.empty(0, np.int64)
            return self
        X = unit_float32(X)
        cap = max(self.min_cap, int(np.ceil(self.max_cluster_share * n)))
        labels = np.full(n, -1, dtype=np.int64)
        todo, found = [(np.arange(n), self.eps)], 0
        while todo:
            members, eps = todo.pop()
            split = ChunkedDBSCAN(eps, self.min_samples, self.chunk_size).fit(
                X[members], weight[members]).labels_
            for label in range(split.max() + 1):
                part = members[split == label]
                if part.size > cap and eps * self.eps_shrink >= self.min_eps:
                    todo.append((part, eps * self.eps_shrink))
                else:
                    labels[part], found = found, found + 1
        self.labels_ = renumber_by_first_member(labels)
        return self


class HDBSCANFallback:
    """scikit-learn's HDBSCAN on unit vectors (Euclidean there is monotone in cosine).

    Memory grows with n² in 384 dimensions, so inputs above ``max_points`` are refused.
    ``sample_weight`` is ignored (HDBSCAN has no weights).
    """

    def __init__(self, min_cluster_size: int = 5, min_samples: int | None = None,
                 max_points: int = 40_000):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_points = max_points

    def fit(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "HDBSCANFallback":
        from sklearn.cluster import HDBSCAN

        n = X.shape[0]
        if n > self.max_points:
            raise ValueError(f"HDBSCAN fallback on {n} points (limit {self.max_points}); use 'capped'")
        if n < max(self.min_cluster_size, 2):
            self.labels_ = np.full(n, -1, dtype=np.int64)
            return self
        model = HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                        metric="euclidean", copy=True).fit(unit_float32(X))
        self.labels_ = renumber_by_first_member(model.labels_.astype(np.int64))
        return self


def renumber_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... in order of their lowest-index member; −1 stays −1.

    >>> renumber_by_first_member(np.array([5, -1, 2, 5, 2]))
    array([ 0, -1,  1,  0,  1])
    """
    out = np.full(labels.size, -1, dtype=np.int64)
    clustered = labels >= 0
    if clustered.any():
        uniq, first = np.unique(labels[clustered], return_index=True)
        rank = np.empty(uniq.size, dtype=np.int64)
        rank[np.argsort(first)] = np.arange(uniq.size)
        out[clustered] = rank[np.searchsorted(uniq, labels[clustered])]
    return out
