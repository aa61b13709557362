"""Keywords from the data: distinctive terms per group and near-synonyms.

Class-based TF-IDF (as in BERTopic): the tokens of each group are pooled into
one document; a term scores high when it is frequent in the group and rare
overall. Near-synonyms are words of the data whose embeddings are close to a
group's keywords ("colour" → "color", "hue"). Used by the ontology proposal and
by the keyword-expansion improvement of the assignment.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse

from clustering.scores import keyword_match_matrix, term_matrix
from clustering.tokens import HAN


def class_tfidf(counts: sparse.csr_matrix, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """c-TF-IDF of each term in each group, shape (n_groups, n_terms).

    Texts with group −1 count as background: they lower the weight of common
    terms but get no row. tf is the term's share of its group's tokens; the idf
    is log(1 + mean tokens per group / the term's total count).
    """
    groups = np.asarray(groups)
    member = sparse.csr_matrix(
        (np.ones(groups.size), (np.where(groups >= 0, groups, n_groups), np.arange(groups.size))),
        shape=(n_groups + 1, groups.size),
    )
    pooled = np.asarray((member @ counts).todense())
    totals = pooled.sum(axis=0)
    sizes = pooled[:n_groups].sum(axis=1, keepdims=True)
    tf = np.divide(pooled[:n_groups], sizes, out=np.zeros_like(pooled[:n_groups]), where=sizes > 0)
    mean_size = pooled.sum() / max(n_groups, 1)
    idf = np.log1p(np.divide(mean_size, totals, out=np.zeros_like(totals), where=totals > 0))
    return tf * idf


def usable_keyword(term: str) -> bool:
    """A term worth a keyword: not a number, and (outside Han script) 3+ characters.

    Substring equivalence makes short keywords match everything: a keyword "t"
    would match every token that contains a t.
    """
    if term.isdigit():
        return False
    return len(term) >= 3 or bool(HAN.search(term))


def top_terms(scores: np.ndarray, vocabulary: Sequence[str], k: int,
              min_score: float = 0.0) -> list[list[str]]:
    """The ``k`` best usable terms of each group (row), best first, score above ``min_score``."""
    usable = np.array([usable_keyword(t) for t in vocabulary], dtype=bool)
    out = []
    for row in np.where(usable, scores, -np.inf):
        order = np.argsort(-row, kind="stable")[:k]
        out.append([vocabulary[i] for i in order if row[i] > min_score])
    return out


def near_synonyms(keyword_vectors: np.ndarray, term_vectors: np.ndarray, terms: Sequence[str],
                  threshold: float = 0.8, limit: int = 5) -> list[list[str]]:
    """For each keyword, the data terms within cosine ``threshold`` (closest first)."""
    if len(terms) == 0 or keyword_vectors.shape[0] == 0:
        return [[] for _ in range(keyword_vectors.shape[0])]
    sim = keyword_vectors @ term_vectors.T
    out = []
    for row in sim:
        order = np.argsort(-row, kind="stable")[:limit + 1]
        out.append([terms[i] for i in order if row[i] >= threshold])
    return out


def new_terms(current: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """Candidates that no current keyword already matches by substring equivalence."""
    if not candidates:
        return []
    known = keyword_match_matrix(list(candidates), [list(current)])[:, 0]
    out, seen = [], set()
    for term, matched in zip(candidates, known):
        if not matched and term not in seen:
            out.append(term)
            seen.add(term)
    return out


def expand_ontology(ontology, table, tokens: Sequence[Sequence[str]], weight: np.ndarray,
                    main: np.ndarray, sub: np.ndarray, n_terms: int):
    """A copy of ``ontology`` whose keyword lists also hold the data's distinctive terms.

    Main categories get the c-TF-IDF top terms of the actions assigned to them
    (unassigned actions are the background); subcategories get those of their
    actions against the rest of the same category. Terms that an existing
    keyword already matches are skipped; order and names are unchanged.
    """
    vocabulary, counts = term_matrix(tokens, weight)
    main_terms = top_terms(class_tfidf(counts, main, len(table.main_names)), vocabulary, n_terms)
    sub_terms: list[list[str]] = [[] for _ in table.sub_names]
    for category in range(len(table.main_names)):
        columns = np.flatnonzero(table.sub_owner == category)
        rows = np.flatnonzero(main == category)
        if columns.size == 0 or rows.size == 0:
            continue
        local = np.searchsorted(columns, sub[rows])
        local = np.where(np.isin(sub[rows], columns), local, -1)
        found = top_terms(class_tfidf(counts[rows], local, columns.size), vocabulary, n_terms)
        for column, terms in zip(columns, found):
            sub_terms[column] = terms
    data = ontology.model_dump()
    position = 0
    for index, category in enumerate(data["categories"]):
        category["keywords"] += new_terms(table.main_keywords[index], main_terms[index])
        for subcategory in category["subcategories"]:
            subcategory["keywords"] += new_terms(table.sub_keywords[position], sub_terms[position])
            position += 1
    return type(ontology).model_validate(data)
