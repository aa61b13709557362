"""Weeks after the first: keep auxiliary cluster ids stable as new members join.

An unassigned action of the new week joins the earlier auxiliary cluster of its
nearest earlier member when that member is within ε (cosine distance); with
the paper's ``min_samples = 2`` every member of a DBSCAN cluster is a core point,
so this is DBSCAN's own reachability rule. Only the actions that join nothing go
through the fallback, and the clusters it finds get ids after the largest id
used so far. Earlier clusters are never merged or renumbered.
"""

from __future__ import annotations

import numpy as np

from clustering.fallback import unit_float32


class IncrementalFallback:
    """Attach leftovers to known auxiliary clusters, cluster the rest with ``base``.

    Parameters
    ----------
    memory_embeddings : ndarray of shape (m, dim)
        Embeddings of earlier members of auxiliary clusters.
    memory_labels : ndarray of shape (m,)
        Their auxiliary cluster ids (>= 0).
    eps : float
        Largest cosine distance to an earlier member for joining its cluster.
    base : estimator
        Fallback for the actions that join nothing (``fit(X, sample_weight)`` -> ``labels_``).
    next_id : int or None
        First id for new clusters; default one more than the largest id in memory.
    chunk_size : int
        Rows of new actions compared to the memory at a time.

    Attributes
    ----------
    labels_ : ndarray, the auxiliary id per action, −1 for noise.
    joined_ : ndarray of bool, True where the action joined an earlier cluster.
    """

    def __init__(self, memory_embeddings: np.ndarray, memory_labels: np.ndarray, eps: float,
                 base, next_id: int | None = None, chunk_size: int = 4096):
        self.memory_embeddings = memory_embeddings
        self.memory_labels = memory_labels
        self.eps = eps
        self.base = base
        self.next_id = next_id
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "IncrementalFallback":
        labels = np.asarray(self.memory_labels, dtype=np.int64)
        start = self.next_id if self.next_id is not None else int(labels.max(initial=-1)) + 1
        joined = self._nearest_known(unit_float32(X), labels)
        self.joined_ = joined >= 0
        self.labels_ = joined.copy()
        rest = np.flatnonzero(~self.joined_)
        if rest.size:
            weight = None if sample_weight is None else np.asarray(sample_weight)[rest]
            found = self.base.fit(X[rest], sample_weight=weight).labels_
            self.labels_[rest] = np.where(found >= 0, found + start, -1)
        return self

    def _nearest_known(self, X: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Cluster id of each row's nearest memory member if within ε, else −1."""
        out = np.full(X.shape[0], -1, dtype=np.int64)
        if labels.size == 0 or X.shape[0] == 0:
            return out
        memory = unit_float32(self.memory_embeddings)
        rows = max(16, min(self.chunk_size, 2**26 // memory.shape[0]))  # at most ~256 MB a block
        for a in range(0, X.shape[0], rows):
            sim = X[a:a + rows] @ memory.T
            best = np.argmax(sim, axis=1)
            distance = np.float32(1) - sim[np.arange(best.size), best]
            out[a:a + best.size] = np.where(distance <= self.eps, labels[best], -1)
        return out
