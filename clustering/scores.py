"""The paper's scores: s_syn, s_sem, their mix s_α and the thresholded argmax.

Everything here works on arrays and token lists; no model is loaded. Scores are
compared at :data:`SCORE_DECIMALS` decimals, so a score that is exactly a
threshold in real arithmetic (0.7·0.5 + 0.3·1/6 = 0.40) is not pushed above it
by float rounding, and exact ties stay ties (the first listed label wins).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse

SCORE_DECIMALS = 6


def keyword_match_matrix(vocabulary: Sequence[str], keyword_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """``M[t, l]`` is True when token ``t`` matches some keyword of label ``l``.

    Substring equivalence: the token lies inside the keyword or the keyword inside
    the token. Tokens are scanned in one joined string per keyword, and every
    substring of a keyword is looked up in the vocabulary, so the cost grows with
    the number of keywords rather than with vocabulary × keywords.
    """
    index = {t: i for i, t in enumerate(vocabulary)}
    joined = "\n".join(vocabulary)
    starts = np.cumsum([0] + [len(t) + 1 for t in vocabulary])[:-1]
    match = np.zeros((len(vocabulary), len(keyword_lists)), dtype=bool)
    for label, keywords in enumerate(keyword_lists):
        for keyword in keywords:
            match[_tokens_containing(keyword, joined, starts), label] = True
            hits = [index[s] for s in _substrings(keyword) if s in index]
            match[hits, label] = True
    return match


def _tokens_containing(keyword: str, joined: str, starts: np.ndarray) -> list[int]:
    """Indices of the vocabulary tokens that contain ``keyword`` (keywords hold no newline)."""
    rows, at = [], joined.find(keyword)
    while at >= 0:
        row = int(np.searchsorted(starts, at, side="right")) - 1
        rows.append(row)
        nxt = joined.find("\n", at)
        if nxt < 0:
            break
        at = joined.find(keyword, nxt + 1)
    return rows


def _substrings(keyword: str) -> set[str]:
    n = len(keyword)
    return {keyword[i:j] for i in range(n) for j in range(i + 1, n + 1)}


def term_matrix(token_lists: Sequence[Sequence[str]], weight: np.ndarray | None = None
                ) -> tuple[list[str], sparse.csr_matrix]:
    """Vocabulary and the (n_texts, n_terms) weighted count matrix."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, tokens in enumerate(token_lists):
        for token in tokens:
            rows.append(row)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    weight = np.ones(len(token_lists)) if weight is None else np.asarray(weight, dtype=np.float64)
    counts = sparse.csr_matrix((weight[rows] if rows else np.zeros(0), (rows, cols)),
                               shape=(len(token_lists), len(vocabulary)))
    counts.sum_duplicates()
    return list(vocabulary), counts


def syn_scores(token_lists: Sequence[Sequence[str]], keyword_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """s_syn: the share of each action's tokens that match some keyword of each label.

    Parameters
    ----------
    token_lists : sequence of token lists, one per action (repeats count each time).
    keyword_lists : sequence of normalised keyword lists, one per label.

    Returns
    -------
    ndarray of shape (n_actions, n_labels), float64; 0 for an action without tokens.

    Examples
    --------
    >>> syn_scores([["colour", "black", "dress"]], [["color", "black"], ["dress", "col"]])
    array([[0.33333333, 0.66666667]])
    """
    vocabulary, counts = term_matrix(token_lists)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    match = keyword_match_matrix(vocabulary, keyword_lists).astype(np.float64)
    matched = np.asarray(counts @ match) if len(vocabulary) else np.zeros((len(token_lists), len(keyword_lists)))
    return np.divide(matched, lengths[:, None], out=np.zeros_like(matched), where=lengths[:, None] > 0)


def sem_scores(action_embeddings: np.ndarray, label_embeddings: np.ndarray) -> np.ndarray:
    """s_sem: cosine similarity of each action to each label's keyword embedding.

    Rows are normalised here, so any non-zero vectors may be passed; a zero row
    scores 0. Returns float64 of shape (n_actions, n_labels).
    """
    a = _unit(np.asarray(action_embeddings, dtype=np.float32))
    b = _unit(np.asarray(label_embeddings, dtype=np.float32))
    return (a @ b.T).astype(np.float64)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def mix(syn: np.ndarray, sem: np.ndarray, alpha: float) -> np.ndarray:
    """s_α = α·s_syn + (1−α)·s_sem, rounded to :data:`SCORE_DECIMALS` decimals."""
    return np.round(alpha * syn + (1.0 - alpha) * sem, SCORE_DECIMALS)


def best_above(scores: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Argmax per row (first listed label on ties) and its score; −1 where not > ``tau``.

    >>> best_above(np.array([[0.4, 0.4], [0.5, 0.6], [0.41, 0.2]]), 0.40)
    (array([-1,  1,  0]), array([0.4 , 0.6 , 0.41]))
    """
    if scores.shape[1] == 0:
        return np.full(scores.shape[0], -1), np.full(scores.shape[0], np.nan)
    best = np.argmax(scores, axis=1)
    top = scores[np.arange(scores.shape[0]), best]
    return np.where(top > tau, best, -1), top
