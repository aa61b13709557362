"""Actions in, assignments out: the clustering as a list of named, timed steps.

Identical action strings are handled once: rows are reduced to distinct
actions, then to distinct cleaned texts (what is embedded and scored), and the
counts travel along as weights, so DBSCAN on the distinct texts gives the labels
it would give on all rows. Results are spread back to the input rows in order.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from clustering.embeddings import Encoder
from clustering.fallback import ChunkedDBSCAN, unit_float32
from clustering.incremental import IncrementalFallback
from clustering.keywords import expand_ontology
from clustering.nonchaining import CappedDBSCAN, HDBSCANFallback
from clustering.ontology import OTHER, LabelTable, Ontology
from clustering.params import MethodConfig
from clustering.tokens import clean_action, content_tokens, strip_index_marker
from clustering.two_level import EmbeddedLabels, TwoLevelClusterer, prototype_labels

log = logging.getLogger("intentmine")

OUTPUT_COLUMNS = ["action", "main_category", "subcategory", "aux_cluster", "main_score", "sub_score"]


@dataclass(frozen=True)
class AuxMemory:
    """Members of earlier weeks' auxiliary clusters: their actions and cluster ids."""

    actions: list[str]
    labels: np.ndarray
    next_id: int | None = None


@dataclass
class Distinct:
    """Rows reduced to distinct cleaned texts: ``texts[row_code[i]]`` belongs to row i."""

    texts: list[str]
    row_code: np.ndarray
    weight: np.ndarray
    tokens: list[list[str]] = field(default_factory=list)
    spelling: list[str] = field(default_factory=list)  # the first raw spelling of each text, for names


def make_fallback(config: MethodConfig, chunk_size: int = 4096):
    """The estimator that clusters unassigned actions, as the config names it."""
    if config.metric != "cosine" and config.fallback != "dbscan":
        raise ValueError(f"metric '{config.metric}' is an option of the dbscan fallback only")
    if config.fallback == "capped":
        return CappedDBSCAN(config.eps, config.min_samples, config.max_cluster_share,
                            config.min_cap, config.eps_shrink, chunk_size=chunk_size)
    if config.fallback == "hdbscan":
        return HDBSCANFallback(min_cluster_size=max(config.min_samples, 5))
    return ChunkedDBSCAN(config.eps, config.min_samples, chunk_size, config.metric)


def distinct_actions(actions: Sequence[str]) -> Distinct:
    """Deduplicate raw strings, clean each once, deduplicate the cleaned texts, tokenize them."""
    raw_code, raw_unique = pd.factorize(pd.Series(list(actions), dtype=object), sort=False)
    cleaned = [clean_action(a) for a in raw_unique]
    clean_code, texts = pd.factorize(pd.Series(cleaned, dtype=object), sort=False)
    row_code = clean_code[raw_code]
    weight = np.bincount(row_code, minlength=len(texts)).astype(np.float64)
    tokens = [content_tokens(t) for t in texts]
    first_raw = np.unique(clean_code, return_index=True)[1]
    spelling = [" ".join(strip_index_marker(str(raw_unique[i])).split()) or texts[k] for k, i in enumerate(first_raw)]
    return Distinct(list(texts), row_code, weight, tokens, spelling)


def mean_info_vectors(data: Distinct, infos: Sequence[str], encoder: Encoder) -> np.ndarray:
    """Per distinct text, the sum of the embeddings of the (non-empty) Infos its rows carried
    (its direction is their mean; each distinct Info is embedded once)."""
    if len(infos) != data.row_code.size:
        raise ValueError(f"{len(infos)} infos for {data.row_code.size} actions")
    cleaned = pd.Series([clean_action(str(i or "")) for i in infos], dtype=object)
    code, unique = pd.factorize(cleaned, sort=False)
    vectors = encoder.encode(list(unique)).astype(np.float32)
    vectors[np.asarray([u == "" for u in unique])] = 0
    out = np.zeros((len(data.texts), vectors.shape[1]), np.float32)
    np.add.at(out, data.row_code, vectors[code])
    return out


def with_infos(X: np.ndarray, info_vectors: np.ndarray | None, weight: float) -> np.ndarray:
    """Unit rows of ``[x, weight · unit(info)]``: an action's text joined by the kind of Info it
    carries (a text without Infos keeps only its own direction); ``X`` itself when off."""
    if info_vectors is None or weight <= 0:
        return X
    info = np.asarray(info_vectors, dtype=np.float32)
    norms = np.linalg.norm(info, axis=1, keepdims=True)
    info = np.where(norms > 0, info / np.maximum(norms, 1e-12), 0)
    return unit_float32(np.hstack([X, weight * info]))


def embed_labels(table: LabelTable, encoder: Encoder) -> EmbeddedLabels:
    """Embed each label's keywords joined by spaces (the s_sem target)."""
    vectors = encoder.encode(table.main_texts + table.sub_texts)
    n_main = len(table.main_texts)
    return EmbeddedLabels(table, vectors[:n_main], vectors[n_main:])


class ActionClusterer:
    """Run the two-level clustering on raw action strings.

    Parameters
    ----------
    encoder : Encoder
        Gives the embeddings (model call and cache live there).
    config : MethodConfig
        The method: the paper's defaults or an improved preset.
    chunk_size : int
        Block size of the neighbour search in the fallback.

    Attributes
    ----------
    timings_ : dict, seconds per step of the last run.
    counts_ : dict, rows, distinct texts, assigned and clustered texts of the last run.
    ontology_ : Ontology, the ontology used (expanded when the config asks for it).
    """

    def __init__(self, encoder: Encoder, config: MethodConfig, chunk_size: int = 4096):
        self.encoder = encoder
        self.config = config
        self.chunk_size = chunk_size

    @contextmanager
    def _step(self, name: str):
        start = time.perf_counter()
        yield
        self._add_time(name, time.perf_counter() - start)
        log.info("cluster: %s took %.1fs", name, self.timings_[name])

    def _add_time(self, name: str, seconds: float) -> None:
        self.timings_[name] = self.timings_.get(name, 0.0) + seconds

    def run(self, actions: Sequence[str], ontology: Ontology, memory: AuxMemory | None = None,
            infos: Sequence[str] | None = None) -> pd.DataFrame:
        """One output row per input action, in input order (columns :data:`OUTPUT_COLUMNS`).

        With ``infos`` (each action's Info, same order) and ``config.info_weight`` > 0, the
        prototype rounds score each text joined by the mean embedding of its Infos
        (:func:`with_infos`, as the proposal does): the first pass against the keywords and
        the fallback see the text alone (a keyword vector has no Info part to compare).
        """
        self.timings_, cfg = {}, self.config
        with self._step("deduplicate and tokenize"):
            data = distinct_actions(actions)
        log.info("cluster: %s rows, %s distinct texts", f"{len(actions):,}", f"{len(data.texts):,}")
        with self._step("embed actions"):
            text_X = self.encoder.encode(data.texts)
            X = text_X
            if infos is not None and cfg.info_weight > 0:
                X = with_infos(text_X, mean_info_vectors(data, infos, self.encoder), cfg.info_weight)
        model = self._assign(data, text_X, ontology)
        if cfg.expand_keywords:
            with self._step("expand keywords"):
                ontology = expand_ontology(ontology, model.labels.table, data.tokens, data.weight,
                                           model.main_, model.sub_, cfg.expand_terms)
            model = self._assign(data, text_X, ontology)
        for _ in range(cfg.prototype_rounds):
            model = self._assign(data, X, ontology, prototype_labels(model, X, data.weight))
        if cfg.absorb_tau is not None and cfg.absorb_tau < cfg.tau_main:
            if cfg.prototype_rounds:
                model = self._assign(data, X, ontology, prototype_labels(model, X, data.weight), tau_main=cfg.absorb_tau)
            else:
                model = self._assign(data, text_X, ontology, model.labels, tau_main=cfg.absorb_tau)
        self._cluster_leftovers(model, text_X, data.weight, self._fallback(memory))
        self.ontology_ = ontology
        self.counts_ = {"rows": len(actions), "distinct": len(data.texts),
                        "assigned": int((model.main_ >= 0).sum()),
                        "clustered": int((model.aux_ >= 0).sum())}
        with self._step("write rows"):
            return self._rows(actions, data, model)

    def _fallback(self, memory: AuxMemory | None):
        base = make_fallback(self.config, self.chunk_size)
        if memory is None or len(memory.actions) == 0:
            return base
        vectors = self.encoder.encode([clean_action(a) for a in memory.actions])
        return IncrementalFallback(vectors, memory.labels, self.config.eps, base, memory.next_id,
                                   self.chunk_size)

    def _assign(self, data: Distinct, X: np.ndarray, ontology: Ontology,
                labels: EmbeddedLabels | None = None, tau_main: float | None = None) -> TwoLevelClusterer:
        """One scoring pass (the fallback runs once, after the last pass)."""
        cfg = self.config
        if labels is None:
            with self._step("embed labels"):
                labels = embed_labels(LabelTable.from_ontology(ontology), self.encoder)
        model = TwoLevelClusterer(labels, cfg.alpha_main, cfg.alpha_sub,
                                  cfg.tau_main if tau_main is None else tau_main, cfg.tau_sub,
                                  main_from_subs=cfg.main_from_subs)
        with self._step("score and assign"):
            model.fit(data.tokens, X, data.weight)
        log.info("cluster: %s of %s texts assigned", f"{int((model.main_ >= 0).sum()):,}", f"{X.shape[0]:,}")
        return model

    def _cluster_leftovers(self, model: TwoLevelClusterer, X: np.ndarray, weight: np.ndarray, fallback) -> None:
        """The fallback's labels for the unassigned texts, into ``model.aux_``."""
        left = np.flatnonzero(model.main_ < 0)
        with self._step(f"fallback ({self.config.fallback}) on {left.size:,} texts"):
            if left.size:
                model.aux_[left] = fallback.fit(X[left], sample_weight=weight[left]).labels_

    @staticmethod
    def _rows(actions: Sequence[str], data: Distinct, model: TwoLevelClusterer) -> pd.DataFrame:
        table = model.labels.table
        main_names = np.array(table.main_names + [None], dtype=object)
        sub_names = np.array(table.sub_names + [OTHER], dtype=object)
        main = model.main_[data.row_code]
        assigned = main >= 0
        sub = np.where(assigned, sub_names[model.sub_[data.row_code]], None)
        aux = pd.array(np.where(assigned, 0, model.aux_[data.row_code]), dtype="Int64")
        aux[assigned] = pd.NA
        return pd.DataFrame({
            "action": list(actions),
            "main_category": main_names[main],
            "subcategory": sub,
            "aux_cluster": aux,
            "main_score": model.main_score_[data.row_code],
            "sub_score": model.sub_score_[data.row_code],
        }, columns=OUTPUT_COLUMNS)
