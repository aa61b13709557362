"""Ontology proposal on arrays: groups found without being told how many, keywords, names."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering.keywords import class_tfidf, term_matrix, top_terms, usable_keyword
from clustering.ontology import OTHER
from clustering.propose import OntologyProposer

WORDS = [["colour", "black"], ["colour", "navy"], ["colour", "red"],
         ["price", "cheap"], ["price", "premium"], ["price", "band"],
         ["size", "larger"], ["size", "smaller"], ["size", "fit"]]


def hierarchy(seed=0, per_group=30, dim=48):
    """3 main directions, 3 sub-directions around each, points around those; tokens name the group."""
    rng = np.random.default_rng(seed)
    main = rng.normal(size=(3, dim))
    sub = np.repeat(main, 3, axis=0) + 0.6 * rng.normal(size=(9, dim))
    group = np.repeat(np.arange(9), per_group)
    X = sub[group] + 0.25 * rng.normal(size=(group.size, dim))
    tokens = [WORDS[g] + ["show"] for g in group]
    return X, tokens, group


def test_groups_are_found_without_their_number():
    X, tokens, group = hierarchy()
    model = OntologyProposer(min_share=0.0).fit(tokens, X)
    assert model.main_of_fine_.size == 9
    assert adjusted_rand_score(group, model.fine_) == 1.0
    assert adjusted_rand_score(group // 3, model.main_of_fine_[model.fine_]) == 1.0
    onto = model.ontology_
    assert len(onto.categories) == 3 and all(len(c.subcategories) == 3 for c in onto.categories)


def test_keywords_are_distinctive_and_names_unique():
    X, tokens, group = hierarchy(seed=1)
    onto = OntologyProposer(min_share=0.0).fit(tokens, X).ontology_
    for category in onto.categories:
        main_word = category.keywords[0]
        assert main_word in {"colour", "price", "size"}
        for sub in category.subcategories:
            assert main_word in sub.keywords and "show" not in sub.keywords[:2]
    names = [s.name for c in onto.categories for s in c.subcategories] + [c.name for c in onto.categories]
    assert len(names) == len(set(names)) and OTHER not in names


def test_near_synonyms_found_in_the_data_join_the_keywords():
    X, tokens, group = hierarchy(seed=2)
    terms = ["colour", "color", "price", "size"]
    vectors = np.array([[1.0, 0, 0], [0.95, 0.31, 0], [0, 1.0, 0], [0, 0, 1.0]])
    onto = OntologyProposer(min_share=0.0, synonym_threshold=0.9).fit(tokens, X, None, terms, vectors).ontology_
    colour = next(c for c in onto.categories if c.keywords[0] == "colour")
    assert "color" in colour.keywords and "price" not in colour.keywords


def test_small_groups_are_left_out():
    X, tokens, group = hierarchy(seed=3)
    weight = np.where(group == 8, 0.01, 1.0)  # group 8 holds 0.04 % of the weight
    model = OntologyProposer(min_share=0.01).fit(tokens, X, weight)
    assert (model.fine_[group == 8] == -1).all() and model.main_of_fine_.size == 8


def test_class_tfidf_prefers_terms_frequent_in_a_group_and_rare_elsewhere():
    vocabulary, counts = term_matrix([["show", "colour"], ["show", "colour"], ["show", "price"], ["show"]])
    scores = class_tfidf(counts, np.array([0, 0, 1, -1]), 2)
    assert top_terms(scores, vocabulary, 1) == [["colour"], ["price"]]


@pytest.mark.parametrize("term, usable", [("colour", True), ("t", False), ("ok", False), ("2026", False),
                                          ("黑", True), ("ocr", True)])
def test_short_and_numeric_terms_are_not_keywords(term, usable):
    assert usable_keyword(term) is usable


def test_needs_two_actions():
    with pytest.raises(ValueError, match="at least two"):
        OntologyProposer().fit([["a"]], np.ones((1, 3)))


def test_subcategories_are_named_by_their_most_typical_text():
    X, tokens, group = hierarchy(seed=4)
    texts = [f"text {i} of group {g}" for i, g in enumerate(group)]
    model = OntologyProposer(min_share=0.0).fit(tokens, X, texts=texts)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    subs = [s for c in model.ontology_.categories for s in c.subcategories]
    assert len(subs) == 9
    for k, sub in enumerate(subs):  # subcategory k of the ontology is fine_ == k
        members = np.flatnonzero(model.fine_ == k)
        centre = U[members].mean(axis=0)
        closest = members[np.argmax(U[members] @ (centre / np.linalg.norm(centre)))]
        assert sub.name == texts[closest]
    # without texts, names are plain words from the keywords (no "a / b" pairs)
    plain = OntologyProposer(min_share=0.0).fit(tokens, X).ontology_
    names = [s.name for c in plain.categories for s in c.subcategories] + [c.name for c in plain.categories]
    assert all(" / " not in n and n for n in names)


def test_names_keep_the_first_raw_spelling_without_its_index_marker():
    from clustering.pipeline import distinct_actions

    data = distinct_actions(["(1) Match the item's colour", "match the item s colour!", "Add brand filter"])
    assert data.texts == ["match the item s colour", "add brand filter"]
    assert data.weight.tolist() == [2.0, 1.0]
    assert data.spelling == ["Match the item's colour", "Add brand filter"]


def test_main_names_count_spelling_variants_once_and_follow_word_order():
    X, tokens, group = hierarchy(seed=5)
    tokens = [["colour", "color", "filter"] if g < 3 else t for t, g in zip(tokens, group)]
    onto = OntologyProposer(min_share=0.0).fit(tokens, X).ontology_
    colour = next(c for c in onto.categories if "colour" in c.name or "color" in c.name)
    assert not ("colour" in colour.name.split() and "color" in colour.name.split())


def test_a_term_of_one_text_is_no_keyword():
    X, tokens, group = hierarchy(seed=6)
    tokens = [t + (["lindt"] if i == 0 else []) for i, t in enumerate(tokens)]
    onto = OntologyProposer(min_share=0.0).fit(tokens, X).ontology_
    assert all("lindt" not in s.keywords for c in onto.categories for s in c.subcategories)


def test_info_vectors_separate_wordings_that_look_alike():
    """Two operations whose action embeddings overlap but whose Infos differ: the Info signal
    splits them, the actions alone cannot."""
    rng = np.random.default_rng(7)
    dim, per = 32, 40
    group = np.repeat(np.arange(3), per)
    action_dirs = rng.normal(size=(3, dim))
    action_dirs[1] = action_dirs[0]  # groups 0 and 1 are worded alike
    X = action_dirs[group] + 0.3 * rng.normal(size=(group.size, dim))
    info_dirs = rng.normal(size=(3, dim))
    infos = info_dirs[group] + 0.3 * rng.normal(size=(group.size, dim))
    tokens = [WORDS[3 * g] for g in group]
    alone = OntologyProposer(min_share=0.0).fit(tokens, X).fine_
    joined = OntologyProposer(min_share=0.0).fit(tokens, X, info_vectors=infos).fine_
    assert adjusted_rand_score(group, joined) == 1.0
    assert adjusted_rand_score(group, alone) < 0.9


def test_main_name_joins_words_that_never_meet_with_and():
    from clustering.propose import _plain_name, _SynonymFinder

    tokens = [["narrow", "colour", "results"], ["recognise", "brand", "text"], ["price", "range", "segment"],
              ["segment", "price", "range"]]
    none = _SynonymFinder([], None, 0.8)
    assert _plain_name(["colour", "brand"], none, tokens, np.array([True, True, False, False])) == "colour and brand"
    assert _plain_name(["range", "price"], none, tokens, np.array([False, False, True, True])) == "price range"


def test_the_fine_cut_is_an_interior_peak_not_the_bound():
    """A silhouette still rising at the search bound (as on BANKING77) does not make the bound
    the answer: the best interior peak wins; without a window the bound would."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from clustering.propose import _best_cut

    Z = linkage(np.random.default_rng(0).normal(size=(300, 4)), method="ward")

    def score(labels):  # a peak at 30 groups, then a dip, then rising again to the bound
        k = labels.max() + 1
        return -abs(k - 30) / 30 if k < 45 else -0.5 + (k - 45) / 40

    assert _best_cut(Z, score, 80, window=1.15).max() + 1 == 30
    assert _best_cut(Z, score, 80).max() + 1 == 80
    assert (fcluster(Z, 30, criterion="maxclust") - 1 == _best_cut(Z, score, 80, window=1.15)).all()
