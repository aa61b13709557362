"""The replay stage end to end: a real pipeline run (Spark sample, rules analyst, clustering,
tools) on small generated logs, then ``replay`` with and without the logs' ground truth."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from jobs.cli import main
from jobs.common.settings import get_settings, overlay
from jobs.common.storage import latest_run, read_manifest, read_table
from jobs.pipeline import run_week
from jobs.replay.judge import PLANTED
from jobs.replay.stage import load_catalogue, load_truth, replay_tables, run_replay

WEEK = "2026-W47"


@pytest.fixture(scope="module")
def week(small_logs, tmp_path_factory):
    root = tmp_path_factory.mktemp("replay-warehouse")
    settings = overlay(get_settings(), {"sample.per_category": 30})
    results = run_week(small_logs, root, WEEK, settings, None, "replay")
    return root, settings, results


def test_every_sampled_query_is_replayed_and_scored(week, small_logs):
    root, settings, results = week
    assert list(results)[-2:] == ["tools", "replay"]
    samples = read_table(root, "samples", WEEK, columns=["query_id"]).to_pandas()
    rows = read_table(root, "replay", WEEK).to_pandas()
    assert sorted(rows["query_id"]) == sorted(samples["query_id"])
    assert rows["baseline_top1"].notna().all() and rows["replay_top4"].notna().all()
    assert all(len(t) == len(e) == len(n) for t, e, n in zip(rows["tool_ids"], rows["executors"], rows["notes"]))
    # top-4 contains top-1, before and after
    assert not (rows["baseline_top1"] & ~rows["baseline_top4"]).any()
    assert not (rows["replay_top1"] & ~rows["replay_top4"]).any()
    planted = rows[rows["scenario"].isin(PLANTED)]
    assert len(planted) >= 20
    assert planted["replay_top1"].mean() > planted["baseline_top1"].mean() + 0.2
    untouched = rows[rows["tool_ids"].map(len) == 0]
    assert (untouched["replay_products"].map(list) == untouched["baseline_products"].map(list)).all()
    tools = read_table(root, "replay_tools", WEEK).to_pandas()
    assert (tools["n_queries"] > 0).all() and (tools["n_changed"] <= tools["n_queries"]).all()
    assert set(tools["executor"]) >= {"colour", "price"}
    assert tools["n_queries"].sum() == rows["tool_ids"].map(len).sum()
    manifest = read_manifest(root, WEEK, latest_run(root, "replay", WEEK))  # the run id carries the logs' fingerprint
    assert "replay" in {s.stage for s in manifest.stages}


def test_real_logs_without_ground_truth_publish_what_changed(week, tmp_path):
    root, settings, _ = week
    copy = tmp_path / "warehouse"
    shutil.copytree(root, copy)
    counts = run_replay(None, copy, WEEK, settings)
    rows = read_table(copy, "replay", WEEK).to_pandas()
    assert counts["catalogue"] == "results" and counts["judged"] == 0 and counts["baseline_top1"] is None
    for column in ("baseline_top1", "baseline_top4", "replay_top1", "replay_top4", "scenario"):
        assert rows[column].isna().all(), column
    assert rows["changed"].sum() > 0 and counts["changed"] == int(rows["changed"].sum())
    assert read_table(copy, "replay_tools", WEEK).to_pandas()["replay_top1"].isna().all()


def test_ground_truth_only_scores_it_never_chooses(week, small_logs):
    """Shuffled ground truth: the same tools, executors and results; only the scores move."""
    root, settings, _ = week
    samples = read_table(root, "samples", WEEK)
    training, tools = read_table(root, "training_samples", WEEK), read_table(root, "tools", WEEK)
    catalogue, _ = load_catalogue(small_logs, samples)
    truth = load_truth(small_logs)
    shuffled = truth.copy()
    order = np.random.default_rng(0).permutation(len(truth))
    for column in truth.columns.drop("query_id"):
        shuffled[column] = truth[column].to_numpy()[order]
    a, tools_a = replay_tables(samples, training, tools, catalogue, truth, "r", 12)
    b, tools_b = replay_tables(samples, training, tools, catalogue, shuffled, "r", 12)
    for column in ("tool_ids", "executors", "notes", "replay_products", "changed", "asks_shopper"):
        assert a[column].map(lambda v: list(v) if isinstance(v, (list, np.ndarray)) else v).tolist() == \
            b[column].map(lambda v: list(v) if isinstance(v, (list, np.ndarray)) else v).tolist(), column
    pd.testing.assert_frame_equal(tools_a[["tool_id", "executor", "n_changed", "n_no_match"]],
                                  tools_b[["tool_id", "executor", "n_changed", "n_no_match"]])
    assert (a["replay_top1"] != b["replay_top1"]).any()  # the scores did change


def test_a_root_without_samples_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["replay", "--root", str(tmp_path), "--week", WEEK]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "table samples: no complete run" in err


def test_the_report_shows_the_replay(week):
    from jobs.report.stage import run_report

    root, settings, _ = week
    html = open(run_report(None, root, WEEK, settings)["report"], encoding="utf-8").read()
    data = json.loads(html.split('<script id="data" type="application/json">')[1].split("</script>")[0])
    rows = read_table(root, "replay", WEEK).to_pandas()
    assert data["replay"]["overall"]["queries"] == len(rows)
    assert data["replay"]["overall"]["replay_top1"] == pytest.approx(rows["replay_top1"].mean())
    assert {s["scenario"] for s in data["replay"]["scenarios"]} == set(rows["scenario"].fillna("none"))
    assert 'id="replay"' in html and "drawReplay" in html
