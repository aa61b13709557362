"""s_syn, s_sem, s_α and the strict threshold, computed by hand on toy inputs."""

import numpy as np
import pytest

from clustering.scores import best_above, keyword_match_matrix, mix, sem_scores, syn_scores


def test_syn_is_the_share_of_tokens_matching_some_keyword():
    # tokens: refine, colour, black, dress (4)
    tokens = [["refine", "colour", "black", "dress"]]
    keywords = [
        ["colour"],  # colour -> 1/4
        ["black", "colour"],  # black, colour -> 2/4
        ["price"],  # nothing -> 0
    ]
    assert syn_scores(tokens, keywords).tolist() == [[0.25, 0.5, 0.0]]


def test_syn_substring_equivalence_works_both_ways():
    # token inside keyword: "col" ⊂ "colour", "shoe" ⊂ "shoes"; keyword inside token: "red" ⊂ "colored"
    tokens = [["col", "colored", "shoe"]]
    assert syn_scores(tokens, [["colour"], ["red"], ["colour", "red"], ["shoes"]]).tolist() == [
        [1 / 3, 1 / 3, 2 / 3, 1 / 3]]


def test_syn_multiword_keyword_contains_each_of_its_words():
    assert syn_scores([["price", "range", "segment"]], [["price range"]]).tolist() == [[2 / 3]]


def test_syn_counts_repeated_tokens_each_time():
    assert syn_scores([["black", "black", "dress"]], [["black"]]).tolist() == [[2 / 3]]


def test_syn_is_zero_for_an_action_without_tokens():
    assert syn_scores([[], ["black"]], [["black"]]).tolist() == [[0.0], [1.0]]


def test_syn_for_chinese_tokens():
    # 黑 ⊂ 黑色 (keyword inside token); 颜色 matches exactly; 改为 matches nothing -> 2/3
    assert syn_scores([["颜色", "改为", "黑色"]], [["黑", "颜色"]]).tolist() == [[2 / 3]]


def test_keyword_match_matrix_rows_are_tokens_columns_are_labels():
    # "col" ⊂ "colored" and "red" ⊂ "colored"; "logo" ⊂ "logos"
    match = keyword_match_matrix(["colour", "colored", "logo"], [["colour", "col"], ["red"], ["logos"]])
    assert match.tolist() == [[True, False, False], [True, True, False], [False, False, True]]


def test_sem_is_the_cosine_and_normalises_its_inputs():
    actions = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    labels = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(sem_scores(actions, labels), [[0.6, 0.8], [1.0, 0.0], [0.0, 0.0]], atol=1e-7)


def test_mix_weights_syn_by_alpha():
    syn, sem = np.array([[0.5, 0.0]]), np.array([[0.2, 1.0]])
    np.testing.assert_allclose(mix(syn, sem, 0.7), [[0.7 * 0.5 + 0.3 * 0.2, 0.3]])
    np.testing.assert_allclose(mix(syn, sem, 0.6), [[0.6 * 0.5 + 0.4 * 0.2, 0.4]])


def test_a_score_exactly_at_tau_is_not_above_it():
    # 0.7·0.5 + 0.3·(1/6) = 0.40 in real arithmetic (float gives 0.39999999999999997 or so)
    score = mix(np.array([[0.5]]), np.array([[1 / 6]]), 0.7)
    assert score[0, 0] == 0.4
    best, top = best_above(score, 0.40)
    assert best.tolist() == [-1] and top.tolist() == [0.4]


@pytest.mark.parametrize("sem, assigned", [(0.16, False), (1 / 6, False), (0.17, True)])
def test_level_one_threshold_around_040(sem, assigned):
    score = mix(np.array([[0.5]]), np.array([[sem]]), 0.7)  # 0.398, 0.400, 0.401
    assert bool(best_above(score, 0.40)[0][0] == 0) is assigned


@pytest.mark.parametrize("sem, assigned", [(0.12, False), (0.125, False), (0.13, True)])
def test_level_two_threshold_around_035(sem, assigned):
    score = mix(np.array([[0.5]]), np.array([[sem]]), 0.6)  # 0.348, 0.350, 0.352
    assert bool(best_above(score, 0.35)[0][0] == 0) is assigned


def test_ties_go_to_the_first_listed_label():
    best, top = best_above(np.array([[0.5, 0.7, 0.7], [0.9, 0.9, 0.1]]), 0.4)
    assert best.tolist() == [1, 0] and top.tolist() == [0.7, 0.9]


def test_no_labels_means_unassigned():
    best, top = best_above(np.zeros((2, 0)), 0.4)
    assert best.tolist() == [-1, -1] and np.isnan(top).all()
