"""The clustering methods as data: the paper's defaults and the measured improvements.

``PAPER`` holds the SPEC's numbers (and is where the settings take their
defaults from). ``BEST`` switches on the improvements that won the quality
benchmark in docs/benchmarks.md; everything else equals the paper's mode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Fallback = Literal["dbscan", "capped", "hdbscan"]


class MethodConfig(BaseModel):
    """Every knob of the two-level assignment and of the fallback for the leftovers.

    ``fallback``: ``dbscan`` is the paper's DBSCAN; ``capped`` re-splits any
    cluster of more than ``max_cluster_share`` of the leftovers (at least
    ``min_cap`` points) with a smaller ε (×``eps_shrink``) until none is too big;
    ``hdbscan`` is scikit-learn's HDBSCAN (no ε; ``min_samples`` sets the
    smallest cluster). ``expand_keywords`` adds distinctive terms and near-synonyms
    found in the data to each label's keywords and assigns a second time.
``prototype_rounds`` re-assigns that many times with s_sem measured against the
centroid of each label's actions instead of its joined keywords.
``main_from_subs`` lets a category score as its best subcategory at level 1.
``info_weight``: weight of an action's mean Info embedding joined to its text's
for the assignment (0: the text alone; used only when the Infos are given).
``absorb_tau``: after the last round, one more assignment against the
prototypes with τ1 lowered to this value, so an action close enough to a
label's prototype joins it instead of the fallback (None: off).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha_main: float = Field(0.7, ge=0, le=1)
    alpha_sub: float = Field(0.6, ge=0, le=1)
    tau_main: float = 0.40
    tau_sub: float = 0.35
    eps: float = Field(0.5, gt=0)
    min_samples: int = Field(2, ge=1)
    fallback: Fallback = "dbscan"
    max_cluster_share: float = Field(0.05, gt=0, le=1)
    min_cap: int = Field(50, ge=2)
    eps_shrink: float = Field(0.85, gt=0, lt=1)
    expand_keywords: bool = False
    expand_terms: int = Field(10, ge=0)
    prototype_rounds: int = Field(0, ge=0)
    main_from_subs: bool = False
    absorb_tau: float | None = Field(None, ge=0)
    info_weight: float = Field(0.0, ge=0)
    metric: Literal["cosine", "euclidean", "manhattan"] = "cosine"  # DBSCAN's distance (the paper tried L2, L1)


PAPER = MethodConfig()
# The quality benchmark (docs/benchmarks.md, "Clustering"): on HWU64, BANKING77 and the
# synthetic visual-search set this beat the paper's mode at both levels; keyword expansion
# helped only with a short hand-written ontology and s_syn (α > 0) lowered NMI on all
# three, so neither is switched on. Ten prototype rounds (a k-means from the ontology;
# 20 gave the same figures) plus absorbing leftovers within cosine 0.3 of a prototype
# raised NMI over 3 rounds without absorbing on all three sets (docs/cluster.md).
# Joining each action's Info (weight 1, as the proposal does) keeps wordings of one operation
# that ask for the same kind of Info in one tool (demo weeks, docs/benchmarks.md); the open
# sets carry no Infos, so their figures do not move.
BEST = MethodConfig(alpha_main=0.0, alpha_sub=0.0, fallback="capped", prototype_rounds=10,
                    main_from_subs=True, absorb_tau=0.3, info_weight=1.0)
METHODS: dict[str, MethodConfig] = {"paper": PAPER, "best": BEST}


def method_config(method: str, **overrides) -> MethodConfig:
    """The named preset with ``overrides`` (e.g. thresholds from settings) applied."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; expected one of {', '.join(METHODS)}")
    return MethodConfig(**{**METHODS[method].model_dump(), **overrides})
