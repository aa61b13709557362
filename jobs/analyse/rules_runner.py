"""Running the ``rules`` analyst over samples: features from pixels and metadata, then rules.

Kept apart from the job so the same per-query function serves the local loop, the
Spark ``mapInPandas`` body and the benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.parallel import map_chunks
from jobs.analyse import rules_backend
from jobs.analyse.expert_rules import ExpertRules, load_rules
from jobs.analyse.features import (Palette, WeekReferences, brand_match, join_photo_features, metadata_features,
                                   pattern_match, product_colour, query_photo_row, unpacked_ink)
from jobs.analyse.ocr import NONE, brand_in_ink
from jobs.common.images import image_policy, load_rgb
from jobs.analyse.results import QueryResult, StageOutput, checked


class FeatureExtractor:
    """Features of one sample: pixels of the query and product photos, and metadata.

    Product photos recur across the week's queries (a catalogue of thousands behind
    hundreds of thousands of impressions), so each product photo's colour is measured
    once and joined to every query that shows it: from ``product_colours`` (the week's
    table, :func:`product_colour_table`) when given, else on first sight. The query
    photo is decoded once and measured once: by the cache stage, which decodes it for
    its own feature anyway and hands the result over in ``sample["query_photo"]``
    (:func:`attach_query_photos`), else here. ``decodes`` counts the
    photos decoded here. The brand printed on the photo is read from its ink (handed over
    too) when the query's category has brands to look for (``brands``: category -> the
    week's brand names, known only once the week's samples are read).
    """

    def __init__(self, logs: Path | str, rules: ExpertRules, max_side: int,
                 reference_prices: dict[str, float] | None = None,
                 product_colours: dict[str, str] | None = None,
                 brands: dict[str, tuple[str, ...]] | None = None):
        self.logs, self.max_side = logs, max_side
        self.palette = Palette(rules.colour_names)
        self.reference_prices = reference_prices or {}
        self.product_colours = dict(product_colours or {})
        self.brands = brands or {}
        self.decodes = 0

    def decode(self, uri: str, owner: str):
        self.decodes += 1
        return np.asarray(load_rgb(self.logs, uri, self.max_side, owner))

    def colour_of(self, product: dict, owner: str) -> str:
        uri = product["image_uri"]
        if uri not in self.product_colours:
            photo = self.decode(uri, f"{owner}, product {product['product_id']}")
            self.product_colours[uri] = product_colour(photo, self.palette)
        return self.product_colours[uri]

    def __call__(self, sample: dict) -> dict:
        owner = f"query {sample['query_id']}"
        query = sample.get("query_photo")
        if query is None:
            query = query_photo_row(self.decode(sample["image_uri"], owner), self.palette)
        colours = [self.colour_of(p, owner) for p in sample["products"]]
        brands = self.brands.get(sample["main_category"], ())
        printed = brand_in_ink(unpacked_ink(query), brands) if brands else NONE
        joined = join_photo_features(query, colours)
        return {**joined, "photo_brand": printed,
                "photo_brand_match": brand_match(sample["products"], printed),
                "photo_pattern_match": pattern_match(sample["products"], joined["photo_pattern"]),
                **metadata_features(sample["products"], sample["main_category"], self.reference_prices)}


def product_photos(samples: list[dict]) -> list[dict]:
    """The distinct product photos of a batch of samples: ``{image_uri, product_id}``, first seen first."""
    return WeekReferences(samples).product_photos()


def product_colour_table(photos: list[dict], logs: Path | str, settings) -> dict[str, str]:
    """image_uri -> dominant colour for each product photo (one decode each)."""
    m = settings.models
    extractor = FeatureExtractor(image_policy(logs, settings), load_rules(m.rules_file or None), m.feature_max_side)
    for p in photos:
        extractor.colour_of(p, "product table")
    return extractor.product_colours


class RulesAnalyst:
    """Sample -> :class:`QueryResult` with ``backend=rules`` on both stages."""

    def __init__(self, logs: Path | str, settings, reference_prices: dict[str, float] | None = None,
                 product_colours: dict[str, str] | None = None,
                 brands: dict[str, tuple[str, ...]] | None = None):
        m = settings.models
        self.rules = load_rules(m.rules_file or None)
        self.seed = m.seed
        self.features = FeatureExtractor(image_policy(logs, settings), self.rules, m.feature_max_side,
                                         reference_prices, product_colours, brands)
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


CHUNK = 256  # samples per task of a worker process


def analyse_samples(samples: Sequence, logs: Path | str, settings, reference_prices: dict[str, float],
                    product_colours: dict[str, str], brands: dict[str, tuple[str, ...]],
                    progress=None) -> list[tuple[QueryResult, QueryResult]]:
    """:class:`RulesAnalyst` over ``samples`` (sample rows, or a :class:`SampleTable`), in order, on
    ``settings.models.workers`` processes: for each, (the result as the analyst gave it, the result
    :func:`checked` against its sample).

    Each query's result depends on that query alone (its features, the week's shared tables,
    a phrasing seeded by its id), so the results are the same for any number of workers. The
    check runs in the workers too (in the parent it took a third of the stage on 2 cores).
    """
    return map_chunks(_analyse_chunk, samples, CHUNK, settings.models.workers, _start_worker,
                      (logs, settings, reference_prices, product_colours, brands), progress)


_WORKER: RulesAnalyst | None = None


def _start_worker(*args) -> None:
    global _WORKER
    _WORKER = RulesAnalyst(*args)


def _analyse_chunk(chunk: Sequence) -> list[tuple[QueryResult, QueryResult]]:
    samples = chunk.rows() if isinstance(chunk, SampleTable) else chunk
    return [(result, checked(result, sample)) for sample in samples for result in (_WORKER(sample),)]


def attach_query_photos(samples: list[dict], by_uri: dict[str, dict]) -> int:
    """Join query-photo features (:func:`jobs.analyse.stage.query_photo_table`) to sample rows
    (``query_photo``); returns how many."""
    joined = 0
    for s in samples:
        if s["image_uri"] in by_uri:
            s["query_photo"] = by_uri[s["image_uri"]]
            joined += 1
    return joined


class SampleTable(Sequence):
    """``samples`` Arrow rows that become Python rows (:func:`plain_samples`) only where they are
    analysed: a slice is a chunk, sent to its worker as Arrow IPC (the slice's rows alone; a
    pickled Arrow slice would carry its whole table), so the calling process neither converts
    nor pickles the week's rows. ``photos``: image_uri -> query-photo features handed over by
    the cache stage (a slice keeps its own rows' only), joined as ``query_photo``."""

    def __init__(self, table, photos: dict[str, dict]):
        self.table, self.photos = table, photos

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, part):
        if not isinstance(part, slice):
            return self[part:part + 1].rows()[0]
        start, stop, _ = part.indices(len(self))
        rows = self.table.slice(start, max(stop - start, 0))
        uris = rows.column("image_uri").to_pylist()
        return SampleTable(rows, {u: self.photos[u] for u in uris if u in self.photos})

    def rows(self) -> list[dict]:
        rows = plain_samples(self.table)
        attach_query_photos(rows, self.photos)
        return rows

    def __getstate__(self):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.table.schema) as writer:
            writer.write_table(self.table)
        return sink.getvalue().to_pybytes(), self.photos

    def __setstate__(self, state):
        import pyarrow as pa

        self.table, self.photos = pa.ipc.open_stream(state[0]).read_all(), state[1]


def plain_samples(table) -> list[dict]:
    """``samples`` Arrow rows as dicts, metadata maps as dicts (Arrow gives key/value pairs)."""
    rows = table.to_pylist()
    for row in rows:
        for p in row["products"]:
            p["metadata"] = dict(p["metadata"] or [])
    return rows
