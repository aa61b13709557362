"""The fallback's distance option (the paper's sensitivity table: cosine vs L2 vs L1)."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.preprocessing import normalize

from clustering.fallback import ChunkedDBSCAN
from clustering.params import PAPER, method_config
from clustering.pipeline import make_fallback


def points(seed: int, n: int = 900, dim: int = 12, k: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    return (centres[rng.integers(0, k, n)] + rng.normal(scale=0.12, size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("metric, eps, sk_metric", [("euclidean", 0.15, "euclidean"),
                                                     ("manhattan", 0.45, "manhattan")])
def test_l2_and_l1_labels_equal_sklearn_on_unit_rows(metric, eps, sk_metric):
    X = points(3)
    unit = normalize(X.astype(np.float32))
    ref = DBSCAN(eps=eps, min_samples=3, metric=sk_metric, algorithm="brute").fit(unit)
    got = ChunkedDBSCAN(eps=eps, min_samples=3, chunk_size=200, metric=metric).fit(X)
    np.testing.assert_array_equal(got.labels_, ref.labels_)
    assert len(set(ref.labels_)) > 5


def test_the_metric_changes_the_neighbourhoods():
    # On unit rows L2 = sqrt(2 - 2 cos): with the same ε = 0.5 it is the stricter radius
    # (cos >= 0.875 instead of cos >= 0.5), so fewer points are clustered.
    X = points(4)
    labels = {m: ChunkedDBSCAN(eps=0.5, min_samples=2, metric=m).fit(X).labels_ for m in ("cosine", "euclidean")}
    assert (labels["euclidean"] == -1).sum() >= (labels["cosine"] == -1).sum()
    assert not np.array_equal(labels["euclidean"], labels["cosine"])


def test_paper_mode_keeps_cosine_and_the_option_is_checked():
    assert PAPER.metric == "cosine"
    assert make_fallback(method_config("paper", metric="euclidean")).metric == "euclidean"
    with pytest.raises(ValueError, match="dbscan fallback only"):
        make_fallback(method_config("best", metric="manhattan"))
    with pytest.raises(ValueError, match="metric 'chebyshev'"):
        ChunkedDBSCAN(metric="chebyshev").fit(np.ones((3, 2)))
