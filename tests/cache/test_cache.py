"""The near-duplicate cache: its feature, precision and recall on planted re-uploads, weeks."""

from __future__ import annotations

import io
import json

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from cache_lookalikes import lookalike_groups, lookalike_scores
from jobs.cache.features import COLOUR_DIM, DIM, image_feature, scales, similarity, tolerances
from jobs.cache.index import ImageIndex, cache_folder
from jobs.cli import main
from core.errors import InputError
from jobs.common.settings import Settings
from jobs.common.storage import read_table, write_table
from schemas.arrow import to_arrow
from schemas.tables import Sample
from stage_data import samples_from_logs, write_samples
from tests_analyse_helpers import drawn

WEEK, NEXT = "2026-W47", "2026-W48"
CACHE = Settings().cache


def feature(rgb: np.ndarray) -> np.ndarray:
    return image_feature(rgb, tolerances(CACHE))


def sim(a: np.ndarray, b: np.ndarray, dims=slice(None)) -> float:
    fa, fb = feature(a)[dims], feature(b)[dims]
    return float(similarity(((fa - fb) ** 2).sum()))


def reupload(rgb: np.ndarray) -> np.ndarray:
    """Crop, rescale and JPEG, as the generator's near-duplicates."""
    img = Image.fromarray(rgb).crop((4, 3, 60, 61)).resize((70, 70), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_reupload_is_similar_and_another_photo_is_not():
    photo = drawn("red", background=(230, 210, 225))
    assert sim(photo, reupload(photo)) > 0.85
    assert sim(photo, drawn("red", background=(205, 228, 214), seed=3)) < 0.5
    assert sim(photo, drawn("blue", background=(230, 210, 225))) < 0.5


def test_lookalikes_with_the_same_colours_do_not_match_but_their_reuploads_do():
    """Different items drawn on the same background in the same colour: colours alone call
    them duplicates; the silhouette must not, while re-uploads still match their own."""
    names, originals, reuploads = next(lookalike_groups(backgrounds=((248, 248, 248),), colours=("black",)))
    colour_only = [sim(originals[0], other, slice(COLOUR_DIM)) for other in originals[1:]]
    # the trap is real: colours cannot tell most of them apart (measured 12 of 13)
    assert sum(s > CACHE.similarity_threshold for s in colour_only) >= 10, colour_only
    for i, a in enumerate(originals):
        for j in range(i + 1, len(originals)):
            assert sim(a, originals[j]) < CACHE.similarity_threshold, (names[i], names[j])
    own = [sim(a, reuploads[i]) for i, a in enumerate(originals)]
    assert sum(s > CACHE.similarity_threshold for s in own) >= 10, own  # measured 11 of 14


def test_lookalike_precision_through_the_matching():
    scores = lookalike_scores(Settings(), colours=("black", "red", "gold"))
    assert scores["other_shape"] <= 1 and scores["precision"] >= 0.98, scores  # measured 1 of 71 hits
    assert scores["recall"] >= 0.45, scores  # measured 0.56: crops up to 1/12 a side move the item's box
    before = lookalike_scores(Settings(cache={"shape_scale": 1e9, "place_scale": 1e9}),
                              colours=("black", "red", "gold"))
    assert before["precision"] < 0.2, before  # without the silhouette and the box: colours alone


def test_the_box_in_the_frame_tells_framings_of_one_outline_apart():
    """The same outline drawn twice at another margin and offset (another shopper framing the
    same product), on the same background in the same colour: only the box's place in the
    frame can tell them apart. Without it most wrong hits are such framings."""
    with_place = lookalike_scores(Settings(), colours=("black", "red"), layouts=2)
    without = lookalike_scores(Settings(cache={"place_scale": 1e9}), colours=("black", "red"), layouts=2)
    assert with_place["same_shape"] * 2 < without["same_shape"], (with_place, without)
    assert with_place["precision"] > without["precision"] + 0.15, (with_place, without)


def cache(root, logs, week=WEEK) -> int:
    return main(["-q", "cache", "--root", str(root), "--week", week, "--logs", str(logs)])


@pytest.fixture(scope="module")
def samples(small_logs):
    return samples_from_logs(small_logs)


def test_precision_and_recall_on_planted_near_duplicates(tmp_path, small_logs, samples):
    write_samples(tmp_path, WEEK, samples)
    assert cache(tmp_path, small_logs) == 0
    manifest = next((tmp_path / "_manifests").rglob("run=*.json"))
    metrics = next(s for s in json.loads(manifest.read_text())["stages"] if s["stage"] == "cache")["metrics"]
    assert metrics["planted"] > 100
    assert metrics["precision"] >= 0.95 and metrics["recall"] >= 0.6, metrics  # measured 1.0, 0.67
    assert 0.1 < metrics["hit_rate"] < 0.4
    hits = read_table(tmp_path, "cache_hits", WEEK).to_pylist()
    assert all(h["similarity"] > 0.85 and h["matched_week"] == WEEK for h in hits)
    assert not {h["matched_query_id"] for h in hits} & {h["query_id"] for h in hits}  # only analysed ones match


def test_index_persists_across_weeks_and_reruns_never_self_match(tmp_path, small_logs, samples):
    first, second = samples[:200], samples[:40]
    write_samples(tmp_path, WEEK, first)
    assert cache(tmp_path, small_logs) == 0
    before = read_table(tmp_path, "cache_hits", WEEK)
    assert cache(tmp_path, small_logs) == 0  # a rerun: same hits, not matching itself
    assert read_table(tmp_path, "cache_hits", WEEK).drop(["run_id"]).equals(before.drop(["run_id"]))
    later = [dict(s, query_id="n" + s["query_id"]) for s in second]  # the same photos uploaded next week
    write_table(tmp_path, "samples", NEXT, "test", to_arrow(Sample, later))
    assert cache(tmp_path, small_logs, NEXT) == 0
    hits = read_table(tmp_path, "cache_hits", NEXT).to_pylist()
    assert len(hits) == len(later)
    assert {h["matched_week"] for h in hits} == {WEEK}


def test_analyse_reuses_the_matched_analysis(tmp_path, small_logs, samples):
    write_samples(tmp_path, WEEK, samples[:300])
    assert cache(tmp_path, small_logs) == 0
    assert main(["-q", "analyse", "--root", str(tmp_path), "--week", WEEK, "--logs", str(small_logs)]) == 0
    hits = read_table(tmp_path, "cache_hits", WEEK).to_pylist()
    assert hits
    analyses = {(a["query_id"], a["stage"]): a for a in read_table(tmp_path, "analyses", WEEK).to_pylist()}
    for h in hits:
        mine, theirs = analyses[(h["query_id"], "llm")], analyses[(h["matched_query_id"], "llm")]
        assert mine["status"] == "cached" and mine["output_json"] == theirs["output_json"]
    signals = read_table(tmp_path, "signals", WEEK).to_pylist()
    by_query = lambda q: sorted((s["order"], s["action"], s["info"]) for s in signals if s["query_id"] == q)  # noqa: E731
    for h in hits:  # a hit carries the matched query's signals (none when no rule fired for it)
        assert by_query(h["query_id"]) == by_query(h["matched_query_id"])
    assert any(by_query(h["query_id"]) for h in hits)


def test_an_index_of_the_older_colour_feature_fails_clearly(tmp_path, small_logs, samples, capsys):
    folder = cache_folder(tmp_path)  # as runs before the silhouette left it: 6 floats, no feature.json
    folder.mkdir(parents=True)
    old = faiss.IndexFlatL2(6)
    old.add(np.zeros((2, 6), np.float32))
    faiss.write_index(old, str(folder / "index.faiss"))
    pq.write_table(pa.table({"query_id": ["a", "b"], "week": ["2026-W40"] * 2}), folder / "entries.parquet")
    write_samples(tmp_path, WEEK, samples[:20])
    assert cache(tmp_path, small_logs) == 2
    err = capsys.readouterr().err
    assert "6 floats" in err and f"{DIM} floats" in err and str(folder) in err
    assert faiss.read_index(str(folder / "index.faiss")).d == 6  # left as it was
    with pytest.raises(InputError):
        ImageIndex.load(folder)


def test_an_index_stored_with_other_tolerances_is_rescaled(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 200, (5, DIM)).astype(np.float32)
    old, new = scales(5.0, 25.0, 0.5, 0.3), scales(8.0, 35.0, 0.25, 0.15)
    stored = ImageIndex()
    stored.add((raw / old).astype(np.float32), [f"q{i}" for i in range(5)], WEEK)
    stored.save(tmp_path, old)
    loaded = ImageIndex.load(tmp_path, scales=new)
    assert np.allclose(loaded.vectors(), raw / new, rtol=1e-5)
    assert np.allclose(ImageIndex.load(tmp_path, scales=old).vectors(), raw / old, rtol=1e-6)


def test_missing_photo_is_one_clear_line(tmp_path, small_logs, samples, capsys):
    broken = [dict(samples[0], image_uri="images/queries/gone.png")]
    write_samples(tmp_path, WEEK, broken)
    assert cache(tmp_path, small_logs) == 2
    assert "gone.png" in capsys.readouterr().err


def test_recall_counts_re_uploads_of_any_earlier_photo(tmp_path):
    """A re-upload whose direct source is not indexed but another copy of the original is: a positive
    (before, hits on it counted as correct but not as planted, and recall read 111 %)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.cache.stage import truth_scores

    (tmp_path / "ground_truth").mkdir()
    pq.write_table(pa.table({"query_id": ["a", "b", "c"], "near_duplicate_of": [None, "a", "a"]}),
                   tmp_path / "ground_truth" / "part.parquet")
    queries = [{"query_id": "c"}]  # 'b' was a hit last week (not indexed); 'a' is indexed
    hits = [{"query_id": "c", "matched_query_id": "a"}]
    scores = truth_scores(tmp_path, hits, queries, known={"a"})
    assert scores == {"precision": 1.0, "recall": 1.0, "planted": 1.0}
    # a copy of an original that only a re-upload of it represents in the index
    scores = truth_scores(tmp_path, [{"query_id": "c", "matched_query_id": "b"}], queries, known={"b"})
    assert scores["recall"] == 1.0 and scores["planted"] == 1.0
