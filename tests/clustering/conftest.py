"""The real embedding model, loaded once for the group, and small ontology builders."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.ontology import LabelTable, Ontology
from clustering.two_level import EmbeddedLabels

ONTOLOGY_YAML = """\
name: visual-search-tools
version: 3
categories:
  - name: search condition refinement
    keywords: [refine, condition, filter, attribute]
    subcategories:
      - name: colour condition
        keywords: [colour, color, black, red]
      - name: brand condition
        keywords: [brand, logo, ocr]
  - name: price segmentation
    keywords: [price, budget, cheap, expensive]
"""


@pytest.fixture(scope="session")
def encoder():
    """An Encoder over the real all-MiniLM-L6-v2 (no disk cache).

    ``load_model`` keeps the model per process, so the commands run in-process by the
    tests reuse this one load.
    """
    from clustering.embeddings import Encoder

    enc = Encoder()
    enc.encode(["warm up"])
    return enc


@pytest.fixture()
def ontology_file(tmp_path):
    path = tmp_path / "ontology.yaml"
    path.write_text(ONTOLOGY_YAML)
    return path


DIM = 8  # label axes first, free axes after them


def axis_labels(ontology: Ontology) -> EmbeddedLabels:
    """Each label gets its own axis: main i -> e_i, subcategory j -> e_(n_main + j).

    An action vector then states its cosine to every label directly (see :func:`action_vector`).
    """
    table = LabelTable.from_ontology(ontology)
    n_main, n_sub = len(table.main_names), len(table.sub_names)
    eye = np.eye(DIM, dtype=np.float32)
    return EmbeddedLabels(table, eye[:n_main], eye[n_main:n_main + n_sub])


def action_vector(cosines: list[float], spare: int = DIM - 1) -> np.ndarray:
    """A unit vector whose first components are the given cosines; the rest goes to axis ``spare``."""
    vector = np.zeros(DIM)
    vector[: len(cosines)] = cosines
    vector[spare] = np.sqrt(max(0.0, 1.0 - float(vector @ vector)))
    return vector.astype(np.float32)
