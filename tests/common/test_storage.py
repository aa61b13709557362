"""Versioned storage: atomic publish, rerun replaces, latest run, manifests, weeks."""

import datetime as dt

import pyarrow as pa
import pytest

from jobs.common import storage
from core.errors import InputError
from jobs.common.settings import Settings
from schemas.tables import StageRecord

WEEK = "2026-W47"


def signals(n: int, run_id: str = "r1") -> pa.Table:
    return pa.table({
        "query_id": [f"q{i}" for i in range(n)], "order": pa.array([1] * n, pa.int32()),
        "action": ["refine search condition"] * n, "info": ["black"] * n, "reasoning": ["r"] * n,
        "backend": ["rules"] * n, "model": ["rules"] * n, "prompt_name": ["reason"] * n,
        "prompt_version": [1] * n, "run_id": [run_id] * n,
    })


def test_weeks_are_iso_and_utc():
    assert storage.iso_week(dt.date(2026, 11, 16)) == "2026-W47"
    assert storage.iso_week(dt.datetime(2026, 11, 22, 23, 59, tzinfo=dt.timezone.utc)) == "2026-W47"
    start, end = storage.week_bounds("2026-W01")
    assert start == dt.datetime(2025, 12, 29, tzinfo=dt.timezone.utc) and (end - start).days == 7
    for bad in ("2026-47", "2026-W54", "", "W47"):
        with pytest.raises(InputError, match="--week"):
            storage.week_bounds(bad)


def test_write_then_read_latest(tmp_path):
    path = storage.write_table(tmp_path, "signals", WEEK, "r1", signals(3))
    assert path == tmp_path / "signals" / f"week={WEEK}" / "run=r1"
    assert sorted(p.name for p in path.iterdir()) == ["_SUCCESS", "part-00000.parquet"]
    assert storage.read_table(tmp_path, "signals", WEEK).num_rows == 3
    storage.write_table(tmp_path, "signals", WEEK, "r2", signals(5, "r2"))
    assert storage.latest_run(tmp_path, "signals", WEEK) == "r2"
    assert storage.read_table(tmp_path, "signals", WEEK, run_id="r1").num_rows == 3


def test_rerun_replaces_instead_of_appending(tmp_path):
    storage.write_table(tmp_path, "signals", WEEK, "r1", signals(4))
    storage.write_table(tmp_path, "signals", WEEK, "r1", signals(4))
    assert storage.read_table(tmp_path, "signals", WEEK).num_rows == 4
    assert not list((tmp_path / "_trash").glob("*")) if (tmp_path / "_trash").exists() else True


def test_failure_midway_publishes_nothing(tmp_path):
    storage.write_table(tmp_path, "signals", WEEK, "r1", signals(2))
    with pytest.raises(RuntimeError):
        with storage.publishing(tmp_path, "signals", WEEK, "r1") as staging:
            staging.mkdir()
            (staging / "part-00000.parquet").write_bytes(b"half")
            raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        with storage.publishing(tmp_path, "signals", WEEK, "r9") as staging:
            staging.mkdir()
            raise RuntimeError("killed")
    assert storage.read_table(tmp_path, "signals", WEEK).num_rows == 2  # the old run is untouched
    assert not (tmp_path / "signals" / f"week={WEEK}" / "run=r9").exists()
    assert not (tmp_path / "_staging").exists()  # written in place; the pointer commits


def test_invalid_output_is_refused_before_anything_is_written(tmp_path):
    bad = signals(3).set_column(2, "action", pa.array(["ok", "", "ok"]))
    with pytest.raises(InputError, match="row 1, field action"):
        storage.write_table(tmp_path, "signals", WEEK, "r1", bad)
    assert not (tmp_path / "signals").exists()


def test_read_errors_name_the_table(tmp_path):
    with pytest.raises(InputError, match="table signals: no complete run for week 2026-W47"):
        storage.read_table(tmp_path, "signals", WEEK)
    incomplete = tmp_path / "signals" / f"week={WEEK}" / "run=r1"
    incomplete.mkdir(parents=True)
    assert storage.latest_run(tmp_path, "signals", WEEK) is None


def test_manifest_records_each_stage_once(tmp_path):
    settings = Settings()
    rec = lambda stage, n: StageRecord(stage=stage, started=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc),
                                       seconds=1.5, tables={"signals": n}, metrics={"rate": 2.0})
    storage.record_stage(tmp_path, WEEK, "r1", settings, rec("sample", 1), inputs={"logs": "/x"})
    storage.record_stage(tmp_path, WEEK, "r1", settings, rec("analyse", 2))
    manifest = storage.record_stage(tmp_path, WEEK, "r1", settings, rec("sample", 3))
    assert [s.stage for s in manifest.stages] == ["analyse", "sample"]
    assert manifest.stages[1].tables == {"signals": 3} and manifest.inputs == {"logs": "/x"}
    assert storage.read_manifest(tmp_path, WEEK, "r1") == manifest
    assert manifest.settings_hash == settings.digest()


def test_default_run_id_is_deterministic_and_follows_settings():
    a, b = Settings(), Settings()
    assert storage.default_run_id(WEEK, a) == storage.default_run_id(WEEK, b)
    b.sample.per_category = 7
    assert storage.default_run_id(WEEK, a) != storage.default_run_id(WEEK, b)
    assert storage.default_run_id("2026-W48", a) != storage.default_run_id(WEEK, a)


def test_speed_only_settings_keep_the_run_id():
    """More workers or read-ahead replace the week's run (their outputs are the same), not add one."""
    a, b = Settings(), Settings()
    b.models.workers, b.cache.workers, b.generate.workers, b.sample.image_read_ahead = 3, 5, 7, 2
    assert storage.default_run_id(WEEK, a) == storage.default_run_id(WEEK, b)
    b.models.seed += 1  # a neighbour of models.workers that does shape outputs
    assert storage.default_run_id(WEEK, a) != storage.default_run_id(WEEK, b)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("INTENTMINE_SAMPLE__PER_CATEGORY", "42")
    monkeypatch.setenv("INTENTMINE_SPARK__MASTER", "spark://h:7077")
    s = Settings()
    assert s.sample.per_category == 42 and s.spark.master == "spark://h:7077"


def test_a_waiting_local_lock_takes_its_turn_and_a_refusing_one_says_who_holds_it(tmp_path):
    """``fs.lock``: a second writer is refused in one line, or with ``wait`` blocks until the first is done."""
    import threading

    from core.errors import InputError
    from jobs.common import fs

    location = tmp_path / "_locks" / "review.lock"
    held, release, order = threading.Event(), threading.Event(), []

    def first():
        with fs.lock(location, "the review log"):
            order.append("first in")
            held.set()
            release.wait(10)
            order.append("first out")

    def second():
        with fs.lock(location, "the review log", wait=True):
            order.append("second in")

    a = threading.Thread(target=first)
    a.start()
    assert held.wait(10)
    with pytest.raises(InputError, match="the review log is being written by another run"):
        with fs.lock(location, "the review log"):
            pass
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive() and order == ["first in"]  # waiting, not refused and not in
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["first in", "first out", "second in"]
