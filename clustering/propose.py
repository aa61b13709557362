"""Propose an ontology from unlabelled actions, without being told how many groups.

Steps, each on arrays:

1. Features: the unit embedding of each distinct text, joined (when given) by the
   unit mean embedding of the Infos its signals carried, so two wordings of one
   operation that ask for the same kind of Info ("red", "navy") sit together even
   when their words differ.
2. The fine cut: Ward linkage over the (up to ``max_points`` most frequent) texts, cut
   at the best *interior peak* of the cosine silhouette among 2..``cut_factor``·√n groups:
   a cut at least as good as every cut within ±15 % of its group count. The data's own
   optimum decides, not the bound: on BANKING77 the silhouette still rises at the bound,
   and its best interior peak (74 groups for 77 intents) is taken, with the same answer
   for a bound of 2√n or 3√n (docs/cluster.md).
3. Spherical k-means from the cut's centroids over all texts (weighted), which repairs
   Ward's early mistakes; groups holding less than ``min_share`` of the actions are
   dropped (their actions are left to the assignment's fallback).
4. Main categories: Ward over the group centroids, cut where their silhouette is best.
5. Names and keywords: class-based TF-IDF terms of each group that occur in several of
   its texts (a brand named once is no keyword), plus near-synonyms of those terms
   found in the data. A main category is named by its two best terms in their usual
   order, spelling variants of one word ("colour", "color") counted once; a
   subcategory by its most typical phrase (the member text closest to the group's
   centroid, e.g. "filter results by colour") when the texts are given.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score

from clustering.fallback import unit_float32
from clustering.keywords import class_tfidf, near_synonyms, term_matrix, top_terms, usable_keyword
from clustering.ontology import OTHER, Ontology
from clustering.pipeline import with_infos

log = logging.getLogger("intentmine")


class OntologyProposer:
    """Two-level ontology from embeddings and tokens of distinct actions.

    Parameters
    ----------
    max_points : int
        Most frequent texts used to build the Ward tree (memory grows with its square).
    cut_factor : float
        Cuts are searched up to ``cut_factor * sqrt(n)`` groups.
    sample_size : int
        Texts on which silhouettes are measured.
    refine_iterations : int
        Spherical k-means passes over all texts after the cut.
    min_share : float
        Smallest share of the actions (by weight) a subcategory must hold.
    info_weight : float
        Weight of the Info embedding against the action's when ``info_vectors`` are given.
    peak_window : float or None
        The fine cut is the best *interior peak* of the silhouette: better than every cut
        within this ratio of its group count (None: the best cut in the range, which sits
        at the bound whenever the silhouette still rises there, as on BANKING77).
    n_keywords : int
        Distinctive terms per label (synonyms come on top).
    synonym_threshold : float
        Cosine between term embeddings above which a data term is a near-synonym.
    name, version : str, int
        Written into the ontology.
    seed : int
        Seed of the silhouette sample.

    Attributes
    ----------
    fine_ : ndarray, subcategory (global order) of each text, −1 when its group was dropped.
    main_of_fine_ : ndarray, main category of each subcategory.
    ontology_ : Ontology
    """

    def __init__(self, max_points: int = 12_000, cut_factor: float = 2.0, sample_size: int = 4_000,
                 refine_iterations: int = 3, min_share: float = 0.001,
                 info_weight: float = 1.0, n_keywords: int = 10, synonym_threshold: float = 0.8,
                 name: str = "proposed", version: int = 1, seed: int = 0, peak_window: float | None = 1.15):
        self.max_points = max_points
        self.cut_factor = cut_factor
        self.sample_size = sample_size
        self.seed = seed
        self.refine_iterations = refine_iterations
        self.min_share = min_share
        self.info_weight = info_weight
        self.peak_window = peak_window
        self.n_keywords = n_keywords
        self.synonym_threshold = synonym_threshold
        self.name = name
        self.version = version

    def fit(self, tokens: Sequence[Sequence[str]], X: np.ndarray, sample_weight: np.ndarray | None = None,
            terms: Sequence[str] = (), term_vectors: np.ndarray | None = None,
            texts: Sequence[str] | None = None, info_vectors: np.ndarray | None = None) -> "OntologyProposer":
        """Propose from distinct texts: their tokens, embeddings and counts.

        ``terms``/``term_vectors`` (embeddings of single words of the data) enable
        near-synonyms; without them keywords are the distinctive terms only.
        ``texts`` (the cleaned texts) name subcategories by their most typical phrase.
        ``info_vectors``: per text, the mean embedding of the Infos it came with (rows of
        zeros where it had none); the second signal of what an action is.
        """
        X = unit_float32(X)
        weight = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        if X.shape[0] < 2:
            raise ValueError("an ontology needs at least two distinct actions")
        F = self._features(X, info_vectors)
        fine = self._fine_groups(F, weight)
        log.info("propose: %d groups from %s texts", int(fine.max()) + 1, f"{X.shape[0]:,}")
        main_of_fine = self._main_groups(F, fine)
        log.info("propose: %d main categories", int(main_of_fine.max()) + 1)
        fine, main_of_fine = _order_by_weight(fine, main_of_fine, weight)
        self.fine_, self.main_of_fine_ = fine, main_of_fine
        self.ontology_ = self._describe(tokens, weight, fine, main_of_fine, terms, term_vectors,
                                        None if texts is None else _typical_texts(F, fine, weight, texts))
        return self

    def _features(self, X: np.ndarray, info_vectors: np.ndarray | None) -> np.ndarray:
        return with_infos(X, info_vectors, self.info_weight)

    def _fine_groups(self, F: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Ward tree on the most frequent texts, cut at the best silhouette in 2..cut_factor·√n groups,
        refined by spherical k-means over all texts; groups under ``min_share`` are dropped."""
        tree_rows = np.sort(np.argsort(-weight, kind="stable")[: self.max_points])
        T = F[tree_rows].astype(np.float64)
        rng = np.random.default_rng(self.seed)
        sample = np.sort(rng.choice(T.shape[0], size=min(T.shape[0], self.sample_size), replace=False))
        distances = _cosine_distances(T[sample])
        log.info("propose: Ward tree on the %s most frequent texts", f"{T.shape[0]:,}")
        cut = _best_cut(linkage(T, method="ward"), lambda lab: _silhouette(distances, lab[sample]),
                        int(self.cut_factor * np.sqrt(T.shape[0])), self.peak_window)
        fine = _spherical_kmeans(F, weight, _centroids(T, cut, weight[tree_rows]), self.refine_iterations)
        return _drop_small(fine, weight, self.min_share * weight.sum())

    def _main_groups(self, F: np.ndarray, fine: np.ndarray) -> np.ndarray:
        """Main category of each fine group: Ward on the group centroids, cut by their silhouette."""
        n_fine = int(fine.max()) + 1
        if n_fine < 4:
            return np.zeros(n_fine, dtype=np.int64)
        centroids = unit_float32(_centroids(F, fine, np.ones(F.shape[0])))
        distances = _cosine_distances(centroids)
        return _best_cut(linkage(centroids.astype(np.float64), method="ward"),
                         lambda labels: _silhouette(distances, labels), n_fine - 1)

    def _describe(self, tokens, weight, fine, main_of_fine, terms, term_vectors, typical=None) -> Ontology:
        vocabulary, counts = term_matrix(tokens, weight)
        n_fine, n_main = main_of_fine.size, int(main_of_fine.max()) + 1
        main = np.where(fine >= 0, main_of_fine[np.maximum(fine, 0)], -1)
        synonyms = _SynonymFinder(terms, term_vectors, self.synonym_threshold)
        presence = (counts > 0).astype(np.float64)
        sub_kw = [synonyms.extend(t) for t in _recurring_terms(counts, presence, fine, n_fine, vocabulary,
                                                                self.n_keywords)]
        main_kw = [synonyms.extend(t) for t in _recurring_terms(counts, presence, main, n_main, vocabulary,
                                                                 self.n_keywords)]
        main_names = _unique_names([_plain_name(kw, synonyms, tokens, main == c) for c, kw in enumerate(main_kw)])
        sub_names = _unique_names([t or " ".join(_distinct_spellings(kw, synonyms)[:3])
                                   for t, kw in zip(typical or [None] * n_fine, sub_kw)])
        categories = []
        for c in range(n_main):
            subs = [{"name": sub_names[s], "keywords": sub_kw[s] or [sub_names[s]]}
                    for s in np.flatnonzero(main_of_fine == c)]
            categories.append({"name": main_names[c], "keywords": main_kw[c] or [main_names[c]],
                               "subcategories": subs})
        return Ontology(name=self.name, version=self.version, categories=categories)


def _best_cut(Z: np.ndarray, score_labels, upper: int, window: float | None = None) -> np.ndarray:
    """The ``maxclust`` cut of ``Z`` (2..upper groups, ~3 % apart) whose labels score best.

    With ``window`` (a ratio, e.g. 1.15), only *interior peaks* compete: cuts that score at
    least as well as every cut with between k/window and k·window groups, that whole
    neighbourhood inside the searched range. A curve still rising at ``upper`` then does
    not make ``upper`` the answer; without any interior peak the best cut wins.
    """
    ks = np.unique(np.geomspace(2, max(upper, 2), 200).astype(int))
    cuts = [fcluster(Z, k, criterion="maxclust") - 1 for k in ks]
    scores = np.array([score_labels(labels) for labels in cuts])
    best = int(np.argmax(scores))
    if window is not None:
        peaks = [i for i, k in enumerate(ks) if k / window >= 2 and k * window <= upper
                 and scores[i] >= scores[(ks >= k / window) & (ks <= k * window)].max()]
        if peaks:
            best = max(peaks, key=lambda i: scores[i])
    return cuts[best]


def _cosine_distances(X: np.ndarray) -> np.ndarray:
    """Cosine distances of a small sample (float32 product; the sample is at most a few thousand)."""
    U = unit_float32(X)
    distances = np.clip(1 - U @ U.T, 0, 2)
    np.fill_diagonal(distances, 0)
    return distances


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    if np.unique(labels).size < 2 or np.unique(labels).size >= labels.size:
        return -np.inf
    return float(silhouette_score(distances, labels, metric="precomputed"))


def _drop_small(labels: np.ndarray, weight: np.ndarray, min_weight: float) -> np.ndarray:
    """Labels renumbered 0..k−1 over the groups holding at least ``min_weight`` (others −1)."""
    k = int(labels.max()) + 1
    ok = labels >= 0
    mass = np.bincount(labels[ok], weights=weight[ok], minlength=k)
    keep = mass >= min_weight
    if not keep.any():
        keep[np.argmax(mass)] = True
    kept = np.where(ok, keep[np.maximum(labels, 0)], False)
    return np.where(kept, np.searchsorted(np.flatnonzero(keep), np.maximum(labels, 0)), -1)


def _recurring_terms(counts, presence, groups, n_groups, vocabulary, k, min_texts: int = 2,
                     min_text_share: float = 0.05) -> list[list[str]]:
    """Best c-TF-IDF terms per group among those seen in several of the group's texts.

    A term found in fewer than ``min_texts`` distinct texts of a group (or less than
    ``min_text_share`` of them) is an entity of one phrase (a brand, a model number),
    not a keyword of the operation.
    """
    scores = class_tfidf(counts, groups, n_groups)
    member = sparse.csr_matrix((np.ones(int((groups >= 0).sum())),
                                (groups[groups >= 0], np.flatnonzero(groups >= 0))),
                               shape=(n_groups, groups.size))
    texts_with = np.asarray((member @ presence).todense())
    sizes = np.bincount(groups[groups >= 0], minlength=n_groups)[:, None]
    recurring = texts_with >= np.maximum(min_texts, min_text_share * sizes)
    recurring |= (sizes == 1) & (texts_with >= 1)  # a one-text group keeps its own words
    return top_terms(np.where(recurring, scores, 0.0), vocabulary, k)


def _distinct_spellings(keywords: list[str], synonyms: "_SynonymFinder") -> list[str]:
    """Keywords with later spelling variants of an earlier one left out ("color" after "colour")."""
    out: list[str] = []
    for term in keywords:
        if not any(_same_word(term, kept, synonyms) for kept in out):
            out.append(term)
    return out


def _same_word(a: str, b: str, synonyms: "_SynonymFinder") -> bool:
    if a in b or b in a:
        return True
    shorter, longer = sorted((a, b), key=len)
    common = sum(1 for x, y in zip(shorter, longer) if x == y)
    return len(longer) - len(shorter) <= 1 and common >= len(shorter) - 1 and len(shorter) >= 4


def _plain_name(keywords: list[str], synonyms: "_SynonymFinder", tokens, rows: np.ndarray) -> str:
    """Two distinct words: in the order the group's texts usually put them when they occur
    together ("price range"), else joined by "and" ("colour and brand")."""
    words = _distinct_spellings(keywords, synonyms)[:2]
    if len(words) < 2:
        return " ".join(words)
    first, second = words
    before = after = 0
    for i in np.flatnonzero(rows):
        t = list(tokens[i])
        if first in t and second in t:
            before += t.index(first) < t.index(second)
            after += t.index(first) > t.index(second)
    if before == after == 0:
        return f"{first} and {second}"
    return f"{second} {first}" if after > before else f"{first} {second}"


class _SynonymFinder:
    """Adds data terms whose embeddings are close to a label's terms."""

    def __init__(self, terms: Sequence[str], vectors: np.ndarray | None, threshold: float):
        self.terms = list(terms)
        self.index = {t: i for i, t in enumerate(self.terms)}
        self.vectors = None if vectors is None or not self.terms else unit_float32(vectors)
        self.threshold = threshold

    def extend(self, keywords: list[str]) -> list[str]:
        known = [self.index[k] for k in keywords if k in self.index]
        if self.vectors is None or not known:
            return keywords
        found = near_synonyms(self.vectors[known], self.vectors, self.terms, self.threshold, limit=3)
        extra = [t for row in found for t in row if t not in keywords and usable_keyword(t)]
        return keywords + list(dict.fromkeys(extra))


def _centroids(X: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted mean of each label's rows (labels 0..k−1; −1 ignored)."""
    k = int(labels.max()) + 1
    keep = np.flatnonzero(labels >= 0)
    member = sparse.csr_matrix((weight[keep], (labels[keep], keep)), shape=(k, X.shape[0]))
    totals = np.asarray(member.sum(axis=1)).ravel()
    return np.asarray(member @ X, dtype=np.float64) / np.maximum(totals, 1e-12)[:, None]


def _spherical_kmeans(X: np.ndarray, weight: np.ndarray, centroids: np.ndarray, iterations: int) -> np.ndarray:
    """Assign to the closest unit centroid, recompute weighted centroids, repeat."""
    C = unit_float32(centroids)
    labels = np.argmax(X @ C.T, axis=1)
    for _ in range(iterations):
        moved = _centroids(X, labels, weight)
        empty = np.bincount(labels, minlength=C.shape[0]) == 0
        moved[empty] = C[empty]
        C = unit_float32(moved)
        labels = np.argmax(X @ C.T, axis=1)
    return labels


def _order_by_weight(fine: np.ndarray, main_of_fine: np.ndarray, weight: np.ndarray):
    """Renumber main categories by total weight and subcategories by main, then weight."""
    fine_weight = np.bincount(fine[fine >= 0], weights=weight[fine >= 0], minlength=main_of_fine.size)
    main_weight = np.bincount(main_of_fine, weights=fine_weight)
    main_rank = np.empty(main_weight.size, dtype=np.int64)
    main_rank[np.argsort(-main_weight, kind="stable")] = np.arange(main_weight.size)
    order = np.lexsort((-fine_weight, main_rank[main_of_fine]))
    fine_rank = np.empty(order.size, dtype=np.int64)
    fine_rank[order] = np.arange(order.size)
    return np.where(fine >= 0, fine_rank[np.maximum(fine, 0)], -1), main_rank[main_of_fine][order]


def _typical_texts(X: np.ndarray, fine: np.ndarray, weight: np.ndarray, texts: Sequence[str]) -> list[str]:
    """Per group, the member text closest to its weighted centroid (the heavier text on ties)."""
    C = unit_float32(_centroids(X, fine, weight))
    members = np.flatnonzero(fine >= 0)
    closeness = np.einsum("ij,ij->i", X[members], C[fine[members]])
    order = members[np.lexsort((-weight[members], -closeness, fine[members]))]
    groups, first = np.unique(fine[order], return_index=True)
    typical: list[str | None] = [None] * C.shape[0]  # a group without members keeps its terms
    for g, i in zip(groups, order[first]):
        typical[g] = str(texts[i])
    return typical


def _unique_names(names: list[str]) -> list[str]:
    """Names made unique by numbering repeats ("other" and empty names avoided)."""
    out, seen = [], {OTHER}
    for i, name in enumerate(names):
        name = name or f"group {i + 1}"
        base, number = name, 2
        while name in seen:
            name, number = f"{base} ({number})", number + 1
        seen.add(name)
        out.append(name)
    return out
