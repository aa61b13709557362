"""The cluster map: centroids per node, a 2-D projection in [0, 1], nearest nodes by centroid cosine.

The arrays come from a table of given vectors instead of the embedding model (the map works on
whatever vectors the encoder returns; the serve tests run it with the real model).
"""

import numpy as np
import pandas as pd
import pytest

from jobs.cluster.map import cluster_map

VECTORS = {"black colour": [1, 0, 0], "red colour": [0.9, 0.1, 0], "brand logo": [0.8, 0.2, 0.1],
           "cheaper price": [0, 0, 1], "more angles": [0, 1, 0], "side view": [0.1, 0.9, 0]}


class GivenVectors:
    """Encoder stand-in: unit vectors from :data:`VECTORS` by text."""

    def encode(self, texts):
        out = np.array([VECTORS[t] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_nodes_positions_and_neighbours():
    frame = pd.DataFrame({
        "action": ["black colour", "red colour", "red colour", "brand logo", "cheaper price", "more angles",
                   "side view", "side view"],
        "main_category": ["scr", "scr", "scr", "scr", "price", None, None, None],
        "subcategory": ["colour", "colour", "colour", "brand", None, None, None, None],
        "aux_cluster": pd.array([None, None, None, None, None, 4, 4, -1], dtype="Int64"),
    })
    points = cluster_map(frame, GivenVectors(), "r1").to_pandas().set_index("key")
    assert sorted(points.index) == ["aux::4", "main::price", "main::scr", "sub::price::other", "sub::scr::brand",
                                    "sub::scr::colour"]
    assert points.loc["sub::scr::colour", "size"] == 3 and points.loc["main::scr", "size"] == 4
    assert points.loc["aux::4", "size"] == 2  # the noise row (-1) is on no node
    assert points.loc["sub::price::other", "subcategory"] == "other"
    assert points[["x", "y"]].min().min() == 0 and points[["x", "y"]].max().max() == pytest.approx(1)
    assert list(points.loc["sub::scr::colour", "neighbours"])[0] == "sub::scr::brand"
    assert list(points.loc["sub::scr::brand", "neighbours"])[0] == "sub::scr::colour"
    sims = list(points.loc["sub::scr::colour", "neighbour_similarity"])
    assert sims == sorted(sims, reverse=True) and len(sims) == 3
    assert list(points.loc["main::scr", "neighbours"]) == []
