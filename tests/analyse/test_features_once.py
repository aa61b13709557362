"""Product-photo features are measured once per product and joined to queries, with the same values."""

from __future__ import annotations

import numpy as np

from jobs.analyse.expert_rules import load_rules
from jobs.analyse.features import Palette, brand_match, metadata_features, pattern_match, photo_features
from jobs.common.images import load_rgb
from jobs.analyse.rules_runner import FeatureExtractor, product_colour_table, product_photos
from jobs.common.settings import get_settings
from stage_data import samples_from_logs

RULES = load_rules()


def test_each_product_photo_is_decoded_once_for_the_whole_batch(small_logs):
    samples = samples_from_logs(small_logs, limit=200)
    photos = product_photos(samples)
    impressions = sum(len(s["products"]) for s in samples)
    assert impressions > 3 * len(photos)  # products recur across queries, so there is something to save
    extractor = FeatureExtractor(small_logs, RULES, 96)
    for s in samples:
        extractor(s)
    assert extractor.decodes == len(samples) + len(photos)
    table = product_colour_table(photos, small_logs, get_settings())
    joined = FeatureExtractor(small_logs, RULES, 96, product_colours=table)
    for s in samples:
        joined(s)
    assert joined.decodes == len(samples)  # the week's table serves every product photo


def test_joined_features_equal_the_per_query_computation(small_logs):
    samples = samples_from_logs(small_logs, limit=120)
    palette = Palette(RULES.colour_names)
    table = product_colour_table(product_photos(samples), small_logs, get_settings())
    extractor = FeatureExtractor(small_logs, RULES, 96, product_colours=table)
    for s in samples:
        query = np.asarray(load_rgb(small_logs, s["image_uri"], 96, "q"))
        products = [np.asarray(load_rgb(small_logs, p["image_uri"], 96, "p")) for p in s["products"]]
        pixels = photo_features(query, products, palette)
        reference = {**pixels, "photo_brand_match": brand_match(s["products"], pixels["photo_brand"]),
                     "photo_pattern_match": pattern_match(s["products"], pixels["photo_pattern"]),
                     **metadata_features(s["products"], s["main_category"], {})}
        assert extractor(s) == reference, s["query_id"]


def test_nearest_colour_by_matrix_product_equals_the_direct_distance():
    palette = Palette(RULES.colour_names)
    rng = np.random.default_rng(3)
    pixels = np.vstack([rng.integers(0, 256, (20_000, 3)), palette.rgb.astype(np.int64),  # exact ties too
                        (palette.rgb[:1] + palette.rgb[1:2]) // 2]).astype(np.float32)
    direct = ((pixels[:, None, :] - palette.rgb[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(palette.nearest(pixels), direct)
    fractional = pixels[:500] + 0.25  # not whole grey levels: the direct path is used
    np.testing.assert_array_equal(palette.nearest(fractional),
                                  ((fractional[:, None, :] - palette.rgb[None]) ** 2).sum(-1).argmin(1))


def test_query_photos_are_decoded_once_for_cache_and_analysis(tmp_path, small_logs):
    from jobs.analyse.features import brand_vocabulary
    from jobs.analyse.rules_runner import attach_query_photos
    from jobs.analyse.stage import query_photo_table
    from jobs.cache.stage import run_cache
    from stage_data import write_samples

    week, settings = "2026-W47", get_settings()
    samples = samples_from_logs(small_logs, limit=60)
    write_samples(tmp_path, week, samples)
    run_cache(small_logs, tmp_path, week, settings)
    fresh = samples_from_logs(small_logs, limit=60)
    assert attach_query_photos(fresh, query_photo_table(tmp_path, week, settings)) == len(fresh)
    table = product_colour_table(product_photos(fresh), small_logs, settings)
    brands = brand_vocabulary(fresh)  # the printed brand is read from the ink the cache stage handed over
    shared = FeatureExtractor(small_logs, RULES, settings.models.feature_max_side, product_colours=table,
                              brands=brands)
    alone = FeatureExtractor(small_logs, RULES, settings.models.feature_max_side, product_colours=table,
                             brands=brands)
    printed = []
    for with_photo, plain in zip(fresh, samples_from_logs(small_logs, limit=60)):
        features = shared(with_photo)
        assert features == alone(plain)
        printed.append(features["photo_brand"])
    assert (shared.decodes, alone.decodes) == (0, len(fresh))  # the cache stage's decode served the analyst
    assert 0 < sum(p != "none" for p in printed) < len(printed)  # brands read and not read, both from the ink
    settings.models.feature_max_side = 64  # measured at another size: not used
    assert attach_query_photos(samples_from_logs(small_logs, limit=5),
                               query_photo_table(tmp_path, week, settings)) == 0


def test_worker_processes_give_the_results_of_one_process(small_logs, monkeypatch):
    """The analyst and the cache's photo features on two spawned workers equal one process, in order."""
    from jobs.analyse import rules_runner
    from jobs.analyse.features import brand_vocabulary, reference_prices
    from jobs.cache import stage as cache_stage

    settings = get_settings()
    samples = samples_from_logs(small_logs, limit=96)
    monkeypatch.setattr(rules_runner, "CHUNK", 12)  # several chunks per worker on a small batch
    monkeypatch.setattr(cache_stage, "CHUNK", 12)
    colours = product_colour_table(product_photos(samples), small_logs, settings)
    runs, features = {}, {}
    for workers in (1, 2):
        settings.models.workers = settings.cache.workers = workers
        results = rules_runner.analyse_samples(samples, small_logs, settings, reference_prices(samples), colours,
                                               brand_vocabulary(samples))
        runs[workers] = [(r.query_id, r.vlm.output, r.llm.output, r.extra, c.llm.status) for r, c in results]
        rows: list[dict] = []
        features[workers] = (cache_stage.features_of(samples, small_logs, settings, rows), rows)
    assert [r[0] for r in runs[2]] == [s["query_id"] for s in samples]
    assert runs[2] == runs[1]
    np.testing.assert_array_equal(features[2][0], features[1][0])
    assert features[2][1] == features[1][1]


def test_week_references_gathered_in_batches_equal_the_whole_week(small_logs):
    from jobs.analyse.features import WeekReferences, brand_vocabulary, reference_prices

    samples = samples_from_logs(small_logs, limit=150)
    references = WeekReferences()
    for i in range(0, len(samples), 40):
        references.add(samples[i:i + 40])
    assert references.samples == len(samples)
    assert references.prices() == reference_prices(samples) and references.prices()
    assert references.brands() == brand_vocabulary(samples) and references.brands()
    assert references.product_photos() == product_photos(samples)


def test_week_references_read_from_arrow_equal_those_of_python_rows(small_logs):
    """The stage reads the references column by column from the samples table: the same prices,
    brands and first-seen photos as from the rows, blank and absent fields skipped alike."""
    import copy

    from jobs.analyse.features import WeekReferences
    from jobs.analyse.rules_runner import plain_samples
    from schemas.arrow import to_arrow
    from schemas.tables import Sample

    samples = copy.deepcopy(samples_from_logs(small_logs, limit=150))
    odd = samples[3]["products"]
    odd[0]["metadata"]["subcategory"] = ""  # blank: no usual price from it
    odd[1]["metadata"].pop("brand", None)
    odd[2]["metadata"] = {}
    table = to_arrow(Sample, samples)
    rows, columns = WeekReferences(plain_samples(table)), WeekReferences()
    columns.add_table(table.slice(0, 70))
    columns.add_table(table.slice(70))
    assert columns.samples == rows.samples == len(samples)
    assert columns.prices() == rows.prices() and "" not in columns.prices()
    assert columns.brands() == rows.brands() and columns.brands()
    assert columns.product_photos() == rows.product_photos()
