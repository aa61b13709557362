"""Photos grow with the queries; re-uploads follow their share; files do not depend on the workers."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from jobs.common.storage import read_log_table
from jobs.generate.logs import generate_logs
from jobs.generate.photos import VARIANT_SHARE, plan_photos

SMALL = dict(queries=900, products=160, image_size=48)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.6])
def test_reupload_share_and_distinct_files_follow_the_setting(share):
    plan = plan_photos(200_000, share, np.random.default_rng(4))
    query_file, source = plan["query_file"], plan["file_source"]
    first_seen = np.r_[True, query_file[1:] > np.maximum.accumulate(query_file)[:-1]]
    reupload = ~first_seen | (source[query_file] >= 0)  # same file again, or a near-duplicate file
    assert abs(reupload.mean() - share) < 0.01
    assert abs(len(source) / len(query_file) - (1 - share * (1 - VARIANT_SHARE))) < 0.01
    assert (source < np.arange(len(source))).all()  # a near-duplicate copies an earlier original
    assert (source[source >= 0] >= 0).all() and (source[source[source >= 0]] == -1).all()


def test_a_cap_on_files_reuses_earlier_files():
    plan = plan_photos(10_000, 0.3, np.random.default_rng(1), max_files=500)
    assert plan["query_file"].max() < 500 and len(plan["file_source"]) == 500


def test_generated_week_plants_the_share_and_draws_one_file_per_upload(tmp_path):
    summary = generate_logs(tmp_path, seed=2, reupload_share=0.5, **SMALL)
    assert abs(summary["near_duplicate_share"] - 0.5) < 0.06
    events = read_log_table(tmp_path, "search_events").to_pandas().drop_duplicates("query_id")
    uris = events.image_uri.dropna()
    files = list((tmp_path / "images" / "queries").iterdir())
    assert len(files) == uris.nunique() == summary["images"] - summary["products"]
    assert 0.7 * len(uris) <= len(files) <= 0.8 * len(uris)  # 1 - 0.5 * (1 - VARIANT_SHARE) = 0.75


def test_the_files_do_not_depend_on_the_number_of_workers(tmp_path, monkeypatch):
    from jobs.generate import photos

    monkeypatch.setattr(photos, "CHUNK", 64)  # several chunks, so two workers really share the drawing
    digests = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        generate_logs(out, seed=9, workers=workers, **SMALL)
        digests.append({str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert digests[0] == digests[1] and len(digests[0]) > 500


@pytest.mark.parametrize("size", [16, 40, 96, 150])
def test_an_item_drawn_once_and_moved_has_the_pixels_of_one_drawn_in_place(size):
    """draw_item draws each look once per margin and moves it by the jitter; drawing it where it
    lands must give the same pixels, for every shape, pattern, brand length and background."""
    from jobs.generate.catalogue import CATEGORIES, COLOURS
    from jobs.generate.images import PATTERNS, _item, draw_item

    shapes = sorted({shape for c in CATEGORIES for shape in c.subcategories.values()})
    compared = 0
    for k, shape in enumerate(shapes):
        for pattern in (None, *PATTERNS):
            for text in (None, "Acme", "Brandname Co"):
                colour = list(COLOURS)[(k + compared) % len(COLOURS)]
                background = (248, 248, 248) if compared % 2 else (190, 170, 150)
                seed = [size, k, compared]
                moved = np.asarray(draw_item(size, shape, colour, np.random.default_rng(seed), text,
                                             background, pattern))
                rng = np.random.default_rng(seed)  # the same two draws draw_item makes
                margin = int(size * rng.uniform(0.10, 0.2))
                dx, dy = (int(v) for v in rng.integers(-size // 20, size // 20 + 1, 2))
                box = (margin + dx, margin + dy, size - margin + dx, size - margin + dy)
                in_place = _item(size, shape, colour, text, background, pattern, box)
                assert np.array_equal(moved, in_place), (size, shape, pattern, text)
                compared += 1
    assert compared == len(shapes) * (len(PATTERNS) + 1) * 3
