"""Running the ``rules`` analyst over samples: features from pixels and metadata, then rules.

Kept apart from the job so the same per-query function serves the local loop, the
Spark ``mapInPandas`` body and the benchmark.
"""

from __future__ import annotations

from pathlib import Path

from jobs.analyse import rules_backend
from jobs.analyse.expert_rules import ExpertRules, load_rules
from jobs.analyse.features import Palette, metadata_features, photo_features
from jobs.common.images import ImageCache, image_policy
from jobs.analyse.results import QueryResult, StageOutput


class FeatureExtractor:
    """Features of one sample: pixels of the query and product photos, and metadata."""

    def __init__(self, logs: Path | str, rules: ExpertRules, max_side: int,
                 reference_prices: dict[str, float] | None = None):
        self.palette = Palette(rules.colour_names)
        self.images = ImageCache(logs, max_side)
        self.reference_prices = reference_prices or {}

    def __call__(self, sample: dict) -> dict:
        owner = f"query {sample['query_id']}"
        query = self.images.get(sample["image_uri"], owner)
        products = [self.images.get(p["image_uri"], f"{owner}, product {p['product_id']}")
                    for p in sample["products"]]
        return {**photo_features(query, products, self.palette),
                **metadata_features(sample["products"], sample["main_category"], self.reference_prices)}


class RulesAnalyst:
    """Sample -> :class:`QueryResult` with ``backend=rules`` on both stages."""

    def __init__(self, logs: Path | str, settings, reference_prices: dict[str, float] | None = None):
        m = settings.models
        self.rules = load_rules(m.rules_file or None)
        self.seed = m.seed
        self.features = FeatureExtractor(image_policy(logs, settings), self.rules, m.feature_max_side,
                                         reference_prices)
        self.model = rules_backend.model_name(self.rules)

    def __call__(self, sample: dict) -> QueryResult:
        features = self.features(sample)
        vlm, llm = rules_backend.analyse(features, self.rules, sample["query_id"], self.seed)
        common = {"status": "ok", "backend": rules_backend.BACKEND, "model": self.model, "prompt_version": 1}
        return QueryResult(
            sample["query_id"], sample["main_category"],
            StageOutput(output=vlm.model_dump(), prompt_name="vlm_analysis", **common),
            StageOutput(output=llm.model_dump(), prompt_name="llm_reasoning", **common),
            extra={"rules_fired": [r.id for r in self.rules.fired(features)]})


def plain_samples(table) -> list[dict]:
    """``samples`` Arrow rows as dicts, metadata maps as dicts (Arrow gives key/value pairs)."""
    rows = table.to_pylist()
    for row in rows:
        for p in row["products"]:
            p["metadata"] = dict(p["metadata"] or [])
    return rows
