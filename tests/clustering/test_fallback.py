"""The chunked DBSCAN gives scikit-learn's labels; the capped and incremental variants."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from clustering.fallback import ChunkedDBSCAN
from clustering.nonchaining import CappedDBSCAN, HDBSCANFallback, renumber_by_first_member
from clustering.incremental import IncrementalFallback


def clustered(seed: int, n: int, dim: int, k: int, spread: float) -> np.ndarray:
    """Points around ``k`` random directions, plus 10 % uniform noise, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    X = centres[rng.integers(0, k, n)] / np.linalg.norm(centres, axis=1).mean() + rng.normal(scale=spread, size=(n, dim))
    X[: n // 10] = rng.normal(size=(n // 10, dim))
    return X.astype(np.float32)


@pytest.mark.parametrize("seed, n, dim, k, spread, eps, min_samples, weighted, chunk", [
    (0, 1500, 16, 40, 0.15, 0.05, 2, False, 257),  # many small clusters, lots of noise
    (1, 1200, 8, 25, 0.30, 0.10, 4, True, 100),  # border points, weighted duplicates
    (2, 900, 6, 60, 0.25, 0.08, 6, False, 64),  # many border points
    (3, 2000, 32, 10, 0.40, 0.50, 2, True, 512),  # the paper's ε and min_samples
    (4, 700, 5, 30, 0.20, 0.02, 1, False, 128),  # min_samples 1: no noise
    (5, 1000, 384, 50, 0.03, 0.50, 3, False, 300),  # MiniLM's dimension
])
def test_labels_equal_sklearn_dbscan(seed, n, dim, k, spread, eps, min_samples, weighted, chunk):
    X = clustered(seed, n, dim, k, spread)
    weight = np.random.default_rng(seed).integers(1, 4, n) if weighted else None
    ref = DBSCAN(eps=eps, min_samples=min_samples, metric="cosine", algorithm="brute").fit(X, sample_weight=weight)
    got = ChunkedDBSCAN(eps=eps, min_samples=min_samples, chunk_size=chunk).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(got.labels_, ref.labels_)  # same numbers, not only the same partition
    np.testing.assert_array_equal(got.core_sample_indices_, ref.core_sample_indices_)
    assert len(set(ref.labels_)) > 3


@pytest.mark.parametrize("min_samples, weighted", [(2, False), (2, True), (4, False), (7, True)])
def test_labels_equal_sklearn_when_dbscan_chains(min_samples, weighted):
    # A dense ring chains into one big cluster: the blocks whose pairs are already settled
    # (core points of the same component) are skipped, and the labels must not change.
    rng = np.random.default_rng(min_samples)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 2500))
    X = np.c_[np.cos(angles), np.sin(angles), 0.05 * rng.normal(size=(2500, 3))].astype(np.float32)
    X[::50, 2:] += rng.normal(size=(50, 3))  # scattered noise and small groups
    X = X[rng.permutation(len(X))]
    weight = rng.integers(1, 3, len(X)) if weighted else None
    ref = DBSCAN(eps=0.01, min_samples=min_samples, metric="cosine", algorithm="brute").fit(X, sample_weight=weight)
    got = ChunkedDBSCAN(eps=0.01, min_samples=min_samples, chunk_size=256).fit(X, sample_weight=weight)
    np.testing.assert_array_equal(got.labels_, ref.labels_)
    np.testing.assert_array_equal(got.core_sample_indices_, ref.core_sample_indices_)
    assert np.bincount(ref.labels_[ref.labels_ >= 0]).max() > 1000


def test_border_point_goes_to_the_lowest_numbered_cluster():
    # Directions in 2-D, neighbours when less than 21° apart, core with 4 neighbours (self
    # included). The point at 30° sees one core of each cluster (12° and 48°) and is not core.
    angles = np.radians([48, 52, 56, 60, 30, 0, 4, 8, 12])
    X = np.c_[np.cos(angles), np.sin(angles)]
    eps = 1 - np.cos(np.radians(21))
    ref = DBSCAN(eps=eps, min_samples=4, metric="cosine", algorithm="brute").fit(X).labels_
    got = ChunkedDBSCAN(eps=eps, min_samples=4, chunk_size=2).fit(X).labels_
    assert got.tolist() == ref.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_empty_input():
    assert ChunkedDBSCAN().fit(np.zeros((0, 4))).labels_.tolist() == []


def test_capped_dbscan_splits_a_chain_that_dbscan_merges():
    # 12 tight groups of 10, 30° apart on a circle: ε 0.5 (60°) chains them into one cluster
    angles = np.concatenate([np.radians(30 * g) + np.linspace(0, 0.01, 10) for g in range(12)])
    X = np.c_[np.cos(angles), np.sin(angles)]
    assert set(ChunkedDBSCAN().fit(X).labels_) == {0}
    labels = CappedDBSCAN(max_cluster_share=0.1, min_cap=5, eps_shrink=0.5).fit(X).labels_
    assert len(set(labels) - {-1}) >= 6 and np.bincount(labels[labels >= 0]).max() <= 12
    assert labels[0] == 0  # numbered by first member


def test_hdbscan_fallback_finds_separated_groups():
    X = clustered(7, 400, 8, 4, 0.05)[40:]  # drop the uniform noise rows
    labels = HDBSCANFallback(min_cluster_size=5).fit(X).labels_
    assert len(set(labels) - {-1}) == 4


def test_renumber_by_first_member():
    assert renumber_by_first_member(np.array([3, 3, -1, 0, 7, 0])).tolist() == [0, 0, -1, 1, 2, 1]


def test_incremental_keeps_earlier_ids_and_numbers_new_clusters_after_them():
    memory = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    known = np.array([4, 9])  # ids from earlier weeks
    new = np.array([
        [0.99, 0.14, 0.0],  # joins 4
        [0.1, 0.99, 0.0],  # joins 9
        [0.0, 0.0, 1.0], [0.0, 0.1, 0.99],  # a new cluster -> id 10
        [-1.0, 0.0, 0.0],  # noise
    ])
    model = IncrementalFallback(memory, known, eps=0.5, base=ChunkedDBSCAN(eps=0.5)).fit(new)
    assert model.labels_.tolist() == [4, 9, 10, 10, -1]
    assert model.joined_.tolist() == [True, True, False, False, False]
