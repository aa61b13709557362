"""Prototype rounds and absorbing leftovers close to a prototype (``absorb_tau``), on hand-set vectors.

Two categories without subcategories; each text's embedding is set by hand, so
every cosine below can be read off the vectors: e0 is category "a", e1 category
"b", e3 a direction no label has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clustering.embeddings import Encoder
from clustering.ontology import Ontology
from clustering.params import PAPER, MethodConfig
from clustering.pipeline import ActionClusterer

ONTOLOGY = Ontology.model_validate({"name": "toy", "version": 1, "categories": [
    {"name": "a", "keywords": ["alpha"]}, {"name": "b", "keywords": ["beta"]}]})


def unit(*components: float) -> np.ndarray:
    v = np.array(components, dtype=np.float32)
    return v / np.linalg.norm(v)


def mixed(cos_a: float) -> np.ndarray:
    """Cosine ``cos_a`` to e0, the rest on e3 (no label's direction)."""
    return unit(cos_a, 0, 0, np.sqrt(1 - cos_a ** 2))


VECTORS = {
    "alpha": unit(1, 0, 0, 0), "beta": unit(0, 1, 0, 0),
    "apple": unit(1, 0, 0, 0), "apricot": unit(1, 0, 0, 0), "banana": unit(0, 1, 0, 0),
    "near": mixed(0.35),  # below τ1 0.40, above 0.3
    "far": mixed(0.25),  # below both; cos(near, far) ≈ 0.995, a DBSCAN pair at ε 0.5
}
ACTIONS = ["apple", "apricot", "banana", "near", "far"]


def run(**overrides) -> dict[str, tuple]:
    encoder = Encoder(encode_fn=lambda texts: np.stack([VECTORS[t] for t in texts]))
    config = MethodConfig(**{**PAPER.model_dump(), "alpha_main": 0.0, "alpha_sub": 0.0, **overrides})
    frame = ActionClusterer(encoder, config).run(ACTIONS, ONTOLOGY)
    return {a: (m, None if pd.isna(x) else int(x)) for a, m, x in
            zip(frame["action"], frame["main_category"], frame["aux_cluster"])}


def test_without_absorbing_both_leftovers_form_an_auxiliary_cluster():
    out = run(prototype_rounds=1)
    assert out["apple"] == ("a", None) and out["banana"] == ("b", None)
    assert out["near"] == (None, 0) and out["far"] == (None, 0)


@pytest.mark.parametrize("rounds", [0, 1])
def test_a_leftover_within_absorb_tau_joins_the_label_and_the_other_is_noise(rounds):
    out = run(prototype_rounds=rounds, absorb_tau=0.3)
    assert out["near"] == ("a", None)  # cos 0.35 > 0.3
    assert out["far"] == (None, -1)  # cos 0.25: alone in the fallback, DBSCAN noise
    assert out["apple"] == ("a", None) and out["banana"] == ("b", None)


def test_absorb_tau_at_or_above_tau_main_changes_nothing():
    assert run(prototype_rounds=1, absorb_tau=0.4) == run(prototype_rounds=1)


def test_absorbing_measures_against_the_prototype_not_the_keywords():
    # "alpha" now points half-way to e2; the members still lie on e0, so after a
    # prototype round label a sits on e0: "near" has cosine 0.35 to it but only
    # 0.35/√2 ≈ 0.25 to the keyword vector (and "far" 0.18), so without a round
    # both stay leftovers and pair up in the fallback.
    saved = VECTORS["alpha"]
    try:
        VECTORS["alpha"] = unit(1, 0, 1, 0)
        assert run(prototype_rounds=0, absorb_tau=0.3)["near"] == (None, 0)
        assert run(prototype_rounds=1, absorb_tau=0.3)["near"] == ("a", None)
    finally:
        VECTORS["alpha"] = saved
