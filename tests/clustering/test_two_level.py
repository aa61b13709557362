"""The paper's two-level assignment with hand-computed scores (label embeddings injected).

Labels sit on their own axes, so an action's cosine to a label is the component
given in :func:`action_vector`: [main 0, main 1, sub 0, sub 1].
"""

import math

import numpy as np
import pytest
import yaml

from clustering.fallback import ChunkedDBSCAN
from clustering.ontology import Ontology
from clustering.tokens import tokenize
from clustering.two_level import TwoLevelClusterer
from tests.clustering.conftest import ONTOLOGY_YAML, action_vector, axis_labels

ONTOLOGY = Ontology.model_validate(yaml.safe_load(ONTOLOGY_YAML))
LABELS = axis_labels(ONTOLOGY)

CASES = [
    # action, cosines to [refinement, price, colour, brand], expected (main, sub, main_score, sub_score)
    # syn: refine 1/3 -> 0.7/3 + 0.3·0.6 = 0.41333; colour+black 2/3 -> 0.6·2/3 + 0.4·0.3 = 0.52
    ("1. Refine colour -> black", [0.6, 0.1, 0.3, 0.1], (0, 0, 0.7 / 3 + 0.18, 0.52)),
    # filter 1/2 -> 0.35 + 0.3/6 = 0.40 exactly: not above τ1
    ("filter by logo", [1 / 6, 0.0, 0.0, 0.0], (-1, -1, 0.40, math.nan)),
    # 0.35 + 0.051 = 0.401 > τ1; brand: logo 1/2 -> 0.30 + 0.4·0.125 = 0.35 exactly: "other"
    ("filter by logo", [0.17, 0.0, 0.0, 0.125], (0, -1, 0.401, 0.35)),
    # brand 0.30 + 0.4·0.13 = 0.352 > τ2
    ("filter by logo", [0.17, 0.0, 0.0, 0.13], (0, 1, 0.401, 0.352)),
    # cheap+price 2/2 -> 0.7 + 0 = 0.7; price has no subcategories: "other", no sub score
    ("cheap price", [0.0, 0.0, 0.0, 0.0], (1, -1, 0.7, math.nan)),
    # filter 1/2 vs price 1/2 and equal cosines: 0.5 each, the first listed category wins
    ("filter price", [0.5, 0.5, 0.0, 0.0], (0, -1, 0.5, 0.0)),
]


@pytest.fixture(scope="module")
def fitted():
    tokens = [tokenize(a) for a, _, _ in CASES]
    X = np.vstack([action_vector(c) for _, c, _ in CASES])
    return TwoLevelClusterer(LABELS).fit(tokens, X)


@pytest.mark.parametrize("row", range(len(CASES)))
def test_hand_computed_assignment(fitted, row):
    main, sub, main_score, sub_score = CASES[row][2]
    assert fitted.main_[row] == main
    assert fitted.sub_[row] == sub
    assert fitted.main_score_[row] == pytest.approx(main_score, abs=1e-6)
    if math.isnan(sub_score):
        assert math.isnan(fitted.sub_score_[row])
    else:
        assert fitted.sub_score_[row] == pytest.approx(sub_score, abs=1e-6)


def test_parameters_are_configurable():
    tokens, X = [tokenize("filter by logo")], action_vector([1 / 6, 0, 0, 0])[None]
    assert TwoLevelClusterer(LABELS, tau_main=0.39).fit(tokens, X).main_.tolist() == [0]
    # α = 1: only s_syn counts, 0.5 > 0.40
    assert TwoLevelClusterer(LABELS, alpha_main=1.0).fit(tokens, X).main_score_.tolist() == [0.5]


def test_unassigned_actions_go_to_dbscan_and_its_noise_stays_minus_one():
    near = action_vector([0, 0, 0, 0], spare=5)
    also_near = action_vector([0, 0, 0, 0, 0, 0.99], spare=6)  # cos 0.99 to `near`: d = 0.01 <= ε
    far = action_vector([0, 0, 0, 0], spare=7)  # d = 1 to both
    actions = ["show more sizes", "offer larger sizes", "recommend similar style", "cheap price"]
    X = np.vstack([near, also_near, far, action_vector([0, 0.9, 0, 0])])
    model = TwoLevelClusterer(LABELS, fallback=ChunkedDBSCAN(eps=0.5, min_samples=2))
    model.fit([tokenize(a) for a in actions], X)
    assert model.main_.tolist() == [-1, -1, -1, 1]
    assert model.aux_.tolist() == [0, 0, -1, -1]


def test_duplicate_weights_make_a_lone_action_a_cluster():
    # min_samples 2: one distinct action seen twice is a core point on its own
    X = np.vstack([action_vector([0, 0, 0, 0], spare=5), action_vector([0, 0, 0, 0], spare=7)])
    model = TwoLevelClusterer(LABELS, fallback=ChunkedDBSCAN()).fit([["xyz"], ["uvw"]], X, np.array([2, 1]))
    assert model.aux_.tolist() == [0, -1]


def test_main_from_subs_lets_a_clear_subcategory_pull_its_category():
    # level 1 alone: refine... nothing; colour+black 2/2 -> as a category score 0.7·1 + 0.3·0.2 = 0.76
    tokens, X = [tokenize("colour black")], action_vector([0.1, 0.0, 0.2, 0.0])[None]
    assert TwoLevelClusterer(LABELS).fit(tokens, X).main_.tolist() == [-1]
    model = TwoLevelClusterer(LABELS, main_from_subs=True).fit(tokens, X)
    assert model.main_.tolist() == [0] and model.sub_.tolist() == [0]
    assert model.main_score_[0] == pytest.approx(0.76)


def test_alpha_zero_skips_synonyms_with_the_same_scores():
    from clustering.scores import mix, sem_scores, syn_scores

    tokens = [tokenize(a) for a, _, _ in CASES]
    X = np.vstack([action_vector(c) for _, c, _ in CASES])
    keywords = LABELS.table.main_keywords
    full = mix(syn_scores(tokens, keywords), sem_scores(X, LABELS.main_embeddings), 0.0)
    fast = TwoLevelClusterer.level_scores(tokens, X, keywords, LABELS.main_embeddings, 0.0)
    assert np.array_equal(fast, full) and fast.shape == (len(CASES), 2)
    assert not np.array_equal(TwoLevelClusterer.level_scores(tokens, X, keywords, LABELS.main_embeddings, 0.7), full)
