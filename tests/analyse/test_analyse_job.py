"""``intentmine analyse --backend rules`` end to end on generated logs, and its input errors."""

from __future__ import annotations

import copy

import pytest

from jobs.cli import main
from jobs.common.storage import read_table
from stage_data import samples_from_logs, write_samples

WEEK = "2026-W47"


@pytest.fixture(scope="module")
def samples(small_logs):
    return samples_from_logs(small_logs, limit=120)


def analyse(root, logs, *extra) -> int:
    return main(["-q", "analyse", "--root", str(root), "--week", WEEK, "--logs", str(logs),
                 "--backend", "rules", *extra])


def test_rules_backend_writes_labelled_analyses_and_signals(tmp_path, small_logs, samples):
    write_samples(tmp_path, WEEK, samples)
    assert analyse(tmp_path, small_logs) == 0
    analyses = read_table(tmp_path, "analyses", WEEK).to_pylist()
    signals = read_table(tmp_path, "signals", WEEK).to_pylist()
    assert len(analyses) == 2 * len(samples)
    assert {a["backend"] for a in analyses} == {"rules"} and {a["status"] for a in analyses} == {"ok"}
    assert {s["backend"] for s in signals} == {"rules"}
    found = {a["query_id"] for a in analyses if a["stage"] == "llm" and '"no rule fired"' not in a["output_json"]}
    assert {s["query_id"] for s in signals} == found  # a query with no finding makes no signal
    assert "no rule fired" not in {s["action"] for s in signals}
    first = signals[0]
    assert first["order"] == 1 and first["prompt_name"] == "llm_reasoning" and first["model"].startswith("rules-v")
    assert len({s["action"] for s in signals}) > 5


def test_rerun_is_deterministic(tmp_path, small_logs, samples):
    write_samples(tmp_path, WEEK, samples[:30])
    assert analyse(tmp_path, small_logs) == 0
    once = read_table(tmp_path, "signals", WEEK)
    assert analyse(tmp_path, small_logs) == 0
    assert read_table(tmp_path, "signals", WEEK).equals(once)


def test_chunks_of_arrow_rows_give_the_tables_of_one_chunk(tmp_path, small_logs, samples, monkeypatch):
    """The rules analyst streams the week to its workers in chunks of Arrow rows, with cache hits
    among them: chunks of 7 on two spawned workers give the analyses and signals of one chunk in
    this process, and each chunk travels as its own rows, not its whole table."""
    import pickle

    from jobs.analyse import rules_runner
    from jobs.cache.stage import run_cache
    from jobs.common.settings import get_settings

    tables = {}
    for chunk in (10_000, 7):
        root = tmp_path / f"chunk{chunk}"
        write_samples(root, WEEK, samples)
        run_cache(small_logs, root, WEEK, get_settings())
        monkeypatch.setattr(rules_runner, "CHUNK", chunk)
        assert analyse(root, small_logs) == 0
        tables[chunk] = [read_table(root, t, WEEK).drop_columns(["run_id"]) for t in ("analyses", "signals")]
    hits = read_table(tmp_path / "chunk7", "cache_hits", WEEK).num_rows
    assert hits > 0  # answers reused across chunks too
    assert tables[7][0].equals(tables[10_000][0]) and tables[7][1].equals(tables[10_000][1])
    table = read_table(tmp_path / "chunk7", "samples", WEEK)
    whole = rules_runner.SampleTable(table, {})
    part = pickle.loads(pickle.dumps(whole[7:14]))
    assert part.rows() == rules_runner.plain_samples(table.slice(7, 7))
    assert len(pickle.dumps(whole[7:14])) < len(pickle.dumps(whole)) / 5


def _with_image(samples, uri):
    broken = copy.deepcopy(samples[:3])
    broken[1]["image_uri"] = uri
    return broken


def test_missing_image_names_query_and_file(tmp_path, small_logs, samples, capsys):
    write_samples(tmp_path, WEEK, _with_image(samples, "images/queries/nope.png"))
    assert analyse(tmp_path, small_logs) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert samples[1]["query_id"] in err and "not found" in err and "nope.png" in err


def test_corrupt_image_names_query_and_file(tmp_path, small_logs, samples, capsys, monkeypatch):
    photos = tmp_path / "photos"  # an extra image root besides the logs folder
    photos.mkdir()
    bad = photos / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    monkeypatch.setenv("INTENTMINE_SAMPLE__IMAGE_ROOTS", f'["{photos}"]')
    write_samples(tmp_path, WEEK, _with_image(samples, str(bad)))
    assert analyse(tmp_path, small_logs) == 2
    err = capsys.readouterr().err
    assert "corrupt.png" in err and "image_unreadable: undecodable image" in err and samples[1]["query_id"] in err


def test_missing_samples_is_a_clear_error(tmp_path, small_logs, capsys):
    assert analyse(tmp_path, small_logs) == 2
    assert "samples" in capsys.readouterr().err
