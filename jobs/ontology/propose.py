"""Propose an ontology from a list of actions, by one of two backends behind one function.

- ``data``: the actions' embeddings grouped by :class:`clustering.propose.OntologyProposer`
  (no model server); single words seen at least twice are embedded too, so each keyword
  list gains near-synonyms found in the data;
- ``vllm``: the reasoning LLM's proposal (:mod:`jobs.ontology.llm`), tidied and validated
  like a file.

Either way the result is a validated :class:`clustering.ontology.Ontology`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from pydantic import ValidationError

from clustering.embeddings import Encoder
from clustering.keywords import term_matrix
from clustering.ontology import Ontology
from clustering.pipeline import distinct_actions, mean_info_vectors
from clustering.propose import OntologyProposer
from core.errors import InputError
from jobs.common.embedding import make_encoder

log = logging.getLogger("intentmine")
BACKENDS = ("data", "vllm")


def propose(actions: Sequence[str], settings, backend: str = "data", root: Path | str | None = None,
            infos: Sequence[str] | None = None) -> Ontology:
    """The ontology proposed for ``actions`` by ``backend`` (``data`` or ``vllm``).

    ``infos`` (the Info of each action, same order) are a second signal for the ``data`` backend."""
    if not actions:
        raise InputError("ontology propose: no actions to propose an ontology from")
    if backend == "data":
        return propose_from_data(actions, make_encoder(settings, root), infos=infos)
    if backend == "vllm":
        from jobs.ontology.llm import propose_ontology as ask_model

        try:
            return Ontology.model_validate(ask_model(list(actions), settings))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(f"--backend vllm: the model's ontology is invalid at "
                             f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    raise InputError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")


def propose_from_data(actions: Sequence[str], encoder: Encoder, proposer: OntologyProposer | None = None,
                      min_term_count: float = 2, infos: Sequence[str] | None = None) -> Ontology:
    """The ``data`` backend: a two-level ontology from raw actions, without a model server.

    ``infos`` (the Info of each action, same order) give the proposer a second signal of
    what an action is: each distinct text carries the mean embedding of its Infos.
    """
    proposer = proposer or OntologyProposer()
    data = distinct_actions(actions)
    log.info("propose: %s rows, %s distinct texts", f"{len(actions):,}", f"{len(data.texts):,}")
    X = encoder.encode(data.texts)
    vocabulary, counts = term_matrix(data.tokens, data.weight)
    frequent = np.asarray(counts.sum(axis=0)).ravel() >= min_term_count
    terms = [t for t, keep in zip(vocabulary, frequent) if keep]
    vectors = encoder.encode(terms) if terms else None
    started = time.perf_counter()
    info_vectors = None if infos is None else mean_info_vectors(data, infos, encoder)
    ontology = proposer.fit(data.tokens, X, data.weight, terms, vectors, data.spelling, info_vectors).ontology_
    log.info("propose: %d main categories, %d subcategories in %.1fs", len(ontology.categories),
             sum(len(c.subcategories) for c in ontology.categories), time.perf_counter() - started)
    return ontology
