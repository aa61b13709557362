"""The paper's two-level assignment of actions to an ontology, on arrays.

Level 1: an action goes to the main category with the highest
s_0.7 = 0.7·s_syn + 0.3·s_sem if that score is > τ1, else it is unassigned.
Level 2: inside its category it goes to the subcategory with the highest s_0.6
if > τ2, else to the category's "other". Unassigned actions are clustered by the
fallback (DBSCAN in the paper); its noise stays noise (−1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from clustering.ontology import LabelTable
from clustering.scores import best_above, mix, sem_scores, syn_scores


@dataclass(frozen=True)
class EmbeddedLabels:
    """An ontology's labels with the embeddings of their joined keywords (one row per label)."""

    table: LabelTable
    main_embeddings: np.ndarray
    sub_embeddings: np.ndarray


class TwoLevelClusterer:
    """Assign actions to main categories and subcategories; cluster the rest.

    Parameters
    ----------
    labels : EmbeddedLabels
        The ontology, flattened, with keyword embeddings.
    alpha_main, alpha_sub : float
        Weight of s_syn at level 1 and level 2 (the paper: 0.7 and 0.6).
    tau_main, tau_sub : float
        Thresholds; a label is taken only when its score is strictly above.
    fallback : estimator or None
        Object with ``fit(X, sample_weight)`` setting ``labels_`` (−1 noise), applied
        to the unassigned actions; None leaves them all at −1.
    main_from_subs : bool
        Not in the paper: a category's level-1 score is the higher of its own score
        and its best subcategory's (both with ``alpha_main``), so a clear
        subcategory match is not lost to a vague category centroid.

    Attributes
    ----------
    main_ : ndarray of int, index of the main category, −1 when unassigned.
    sub_ : ndarray of int, global index into ``labels.table.sub_names``, −1 for
        "other" and for unassigned actions.
    main_score_ : ndarray, the best level-1 score (also for unassigned actions).
    sub_score_ : ndarray, the best level-2 score, NaN when unassigned or when the
        category has no subcategories.
    aux_ : ndarray of int, the fallback's label for unassigned actions (−1 noise),
        −1 for assigned ones too (see ``main_``).
    """

    def __init__(self, labels: EmbeddedLabels, alpha_main: float = 0.7, alpha_sub: float = 0.6,
                 tau_main: float = 0.40, tau_sub: float = 0.35, fallback=None,
                 main_from_subs: bool = False):
        self.labels = labels
        self.alpha_main = alpha_main
        self.alpha_sub = alpha_sub
        self.tau_main = tau_main
        self.tau_sub = tau_sub
        self.fallback = fallback
        self.main_from_subs = main_from_subs

    def fit(self, tokens: Sequence[Sequence[str]], X: np.ndarray,
            sample_weight: np.ndarray | None = None) -> "TwoLevelClusterer":
        """Score and assign each action (tokens and embedding row ``i`` describe action ``i``)."""
        table = self.labels.table
        if len(tokens) != X.shape[0]:
            raise ValueError(f"{len(tokens)} token lists but {X.shape[0]} embeddings")
        main_scores = self.level_scores(tokens, X, table.main_keywords, self.labels.main_embeddings,
                                        self.alpha_main)
        if self.main_from_subs and table.sub_names:
            main_scores = self._with_best_sub(main_scores, tokens, X)
        self.main_, self.main_score_ = best_above(main_scores, self.tau_main)
        self.sub_, self.sub_score_ = self._assign_sub(tokens, X)
        self.aux_ = np.full(X.shape[0], -1, dtype=np.int64)
        unassigned = np.flatnonzero(self.main_ < 0)
        if self.fallback is not None and unassigned.size:
            weight = None if sample_weight is None else np.asarray(sample_weight)[unassigned]
            self.aux_[unassigned] = self.fallback.fit(X[unassigned], sample_weight=weight).labels_
        return self

    @staticmethod
    def level_scores(tokens, X, keyword_lists, label_embeddings, alpha) -> np.ndarray:
        """s_α for every action and label of one level, shape (n_actions, n_labels)."""
        if not keyword_lists:
            return np.zeros((X.shape[0], 0))
        sem = sem_scores(X, label_embeddings)
        if alpha == 0:  # s_syn carries no weight: skip its token matching (same scores)
            return mix(0.0, sem, 0.0)
        return mix(syn_scores(tokens, keyword_lists), sem, alpha)

    def _with_best_sub(self, main_scores: np.ndarray, tokens, X) -> np.ndarray:
        table = self.labels.table
        sub_scores = self.level_scores(tokens, X, table.sub_keywords, self.labels.sub_embeddings,
                                       self.alpha_main)
        owners, starts = np.unique(table.sub_owner, return_index=True)  # subs are grouped by owner
        best_sub = np.maximum.reduceat(sub_scores, starts, axis=1)
        out = main_scores.copy()
        out[:, owners] = np.maximum(out[:, owners], best_sub)
        return out

    def _assign_sub(self, tokens, X) -> tuple[np.ndarray, np.ndarray]:
        """Level 2, one main category at a time (only its own subcategories compete)."""
        table = self.labels.table
        sub = np.full(X.shape[0], -1, dtype=np.int64)
        score = np.full(X.shape[0], np.nan)
        for category in np.unique(self.main_[self.main_ >= 0]):
            columns = np.flatnonzero(table.sub_owner == category)
            rows = np.flatnonzero(self.main_ == category)
            if columns.size == 0:
                continue
            scores = self.level_scores(
                [tokens[i] for i in rows], X[rows], [table.sub_keywords[j] for j in columns],
                self.labels.sub_embeddings[columns], self.alpha_sub,
            )
            best, top = best_above(scores, self.tau_sub)
            sub[rows] = np.where(best >= 0, columns[np.maximum(best, 0)], -1)
            score[rows] = top
        return sub, score


def prototype_labels(model: TwoLevelClusterer, X: np.ndarray, sample_weight: np.ndarray | None = None
                     ) -> EmbeddedLabels:
    """Labels whose s_sem targets are the centroids of the actions each label took.

    The improvement "label prototypes from the data": the joined-keyword vector
    is a poor stand-in for what a label's actions look like, so after a first
    assignment each label is represented by the weighted mean of its actions'
    embeddings (a label that took nothing keeps its keyword vector). Keywords
    and s_syn are unchanged.
    """
    weight = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    labels = model.labels
    return EmbeddedLabels(
        labels.table,
        _centroids_or(labels.main_embeddings, X, model.main_, weight),
        _centroids_or(labels.sub_embeddings, X, model.sub_, weight),
    )


def _centroids_or(fallback: np.ndarray, X: np.ndarray, assigned: np.ndarray, weight: np.ndarray) -> np.ndarray:
    out = np.array(fallback, dtype=np.float32, copy=True)
    if out.shape[1] < X.shape[1]:  # X joined by an Info part the keyword vectors lack
        out = np.pad(out, ((0, 0), (0, X.shape[1] - out.shape[1])))
    for label in np.unique(assigned[assigned >= 0]):
        rows = assigned == label
        centroid = (X[rows] * weight[rows, None]).sum(axis=0)
        norm = np.linalg.norm(centroid)
        if norm > 0:
            out[label] = centroid / norm
    return out
