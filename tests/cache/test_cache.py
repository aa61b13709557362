"""The near-duplicate cache: its feature, precision and recall on planted re-uploads, weeks."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from jobs.cache.features import colour_feature, similarity
from jobs.cli import main
from jobs.common.storage import read_table, write_table
from schemas.arrow import to_arrow
from schemas.tables import Sample
from stage_data import samples_from_logs, write_samples
from tests_analyse_helpers import drawn

WEEK, NEXT = "2026-W47", "2026-W48"


def sim(a: np.ndarray, b: np.ndarray) -> float:
    fa, fb = (colour_feature(x, 5.0, 25.0) for x in (a, b))
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


def cache(root, logs, week=WEEK) -> int:
    return main(["-q", "cache", "--root", str(root), "--week", week, "--logs", str(logs)])


@pytest.fixture(scope="module")
def samples(small_logs):
    return samples_from_logs(small_logs)


def test_precision_and_recall_on_planted_near_duplicates(tmp_path, small_logs, samples):
    write_samples(tmp_path, WEEK, samples)
    assert cache(tmp_path, small_logs) == 0
    manifest = next((tmp_path / "_manifests").rglob("*.json"))
    metrics = next(s for s in json.loads(manifest.read_text())["stages"] if s["stage"] == "cache")["metrics"]
    assert metrics["planted"] > 100
    assert metrics["precision"] >= 0.85 and metrics["recall"] >= 0.6, metrics
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
    assert {h["query_id"] for h in hits} <= {s["query_id"] for s in signals}


def test_missing_photo_is_one_clear_line(tmp_path, small_logs, samples, capsys):
    broken = [dict(samples[0], image_uri="images/queries/gone.png")]
    write_samples(tmp_path, WEEK, broken)
    assert cache(tmp_path, small_logs) == 2
    assert "gone.png" in capsys.readouterr().err
