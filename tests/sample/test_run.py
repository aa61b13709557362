"""The whole stage on a few inline log rows: outputs, quarantine, idempotence, errors."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from jobs.cli import main as cli_main
from core.errors import InputError
from jobs.common.storage import latest_run, read_manifest, read_table, week_dir
from jobs.sample.stage import format_summary, run_sample

from .conftest import WEEK, at, event, product, write_logs


def _logs(tmp_path):
    events = [
        event("q-ok", at(0)),                                        # no click at all
        event("q-ok", at(0)),                                        # the same event logged twice
        event("q-late", at(100), user_id="u2"),                      # click after 31 s
        event("q-clicked", at(200), user_id="u3"),                   # click after 30 s: clicked
        event("q-bot", at(300), user_id="u4", user_agent="Scrapy/2.11 (+https://scrapy.org)"),
        event("q-dark", at(400), user_id="u5", image_uri="images/queries/dark.png"),
        event("q-text", at(500), user_id="u6", query_type="text"),
        event(None, at(600), user_id="u7"),                          # malformed: no query id
        event("q-when", at(0, day=-30), user_id="u8"),               # ts outside its partition (below)
    ]
    impressions = [{"query_id": q, "rank": r, "product_id": f"p{r}", "similarity": 0.9 - r / 100}
                   for q in ("q-ok", "q-late", "q-dark") for r in range(1, 4)]
    impressions += [{"query_id": "q-ok", "rank": 0, "product_id": "p1", "similarity": 0.5}]  # bad rank
    clicks = [{"query_id": "q-late", "product_id": "p1", "ts": at(131)},
              {"query_id": "q-clicked", "product_id": "p1", "ts": at(230)}]
    products = [product("p1", brand="A", colour="red"), product("p2", brand="B", colour="red"),
                product("p3", "home", brand="A"), product("p9", price=-1.0)]
    logs = write_logs(tmp_path / "logs", events, impressions, clicks, products,
                      images={"images/queries/dark.png": "dark"})
    # plant an impossible timestamp inside the week's first partition
    stray = logs / "search_events" / f"date={(at(0, day=-30)).date()}"
    shutil.move(str(stray / "part-00000.parquet"), str(logs / "search_events" / "date=2026-11-16" / "part-1.parquet"))
    stray.rmdir()
    return logs


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, spark):
    from jobs.common.settings import Settings, SparkSettings

    tmp = tmp_path_factory.mktemp("run")
    settings = Settings(spark=SparkSettings(master="local[2]", shuffle_partitions=1))
    logs, root = _logs(tmp), tmp / "warehouse"
    summary = run_sample(logs, root, WEEK, settings)
    return logs, root, settings, summary


def _ids(root, table):
    return sorted(read_table(root, table, WEEK).column("query_id").to_pylist())


def test_no_click_queries_and_filters(first_run):
    _, root, _, summary = first_run
    assert _ids(root, "no_click_queries") == ["q-late", "q-ok"]
    filtered = read_table(root, "filtered_queries", WEEK).to_pylist()
    assert {r["query_id"]: r["reason"] for r in filtered} == {"q-bot": "bot_user_agent", "q-dark": "image_dark"}
    assert summary["image_queries"] == 5 and summary["text_queries"] == 1 and summary["no_click"] == 4
    assert summary["by_reason"] == {"bot_user_agent": 1, "image_dark": 1}
    assert "filtered image_dark" in format_summary(summary)


def test_malformed_rows_are_quarantined_with_their_reason(first_run):
    _, root, _, summary = first_run
    rejected = {(r["table"], r["reason"], r["row_key"]) for r in read_table(root, "rejected_rows", WEEK).to_pylist()}
    assert rejected == {
        ("search_events", "null_id", None),
        ("search_events", "duplicate", "q-ok"),
        ("search_events", "timestamp_outside_partition", "q-when"),
        ("impressions", "bad_rank", "q-ok#0"),
        ("products", "bad_price", "p9"),
    }
    assert summary["rejected"] == 5


def test_samples_carry_products_fields_and_weights(first_run):
    _, root, _, _ = first_run
    samples = {r["query_id"]: r for r in read_table(root, "samples", WEEK).to_pylist()}
    assert sorted(samples) == ["q-late", "q-ok"]
    ok = samples["q-ok"]
    assert ok["main_category"] == "apparel" and ok["sample_weight"] == 1.0
    assert [p["rank"] for p in ok["products"]] == [1, 2, 3]
    assert dict(ok["products"][0]["metadata"])["colour"] == "red"
    assert ok["top_fields"][:2] == ["brand", "main_category"]


def test_rerun_replaces_the_same_run(first_run):
    logs, root, settings, summary = first_run
    before = read_table(root, "samples", WEEK).sort_by("query_id")
    again = run_sample(logs, root, WEEK, settings)
    assert again["run_id"] == summary["run_id"]
    for table in ("no_click_queries", "filtered_queries", "rejected_rows", "samples"):
        # one folder: the rerun was written beside the committed run, then replaced it in one commit
        [folder] = [p.name for p in week_dir(root, table, WEEK).glob("run=*")]
        assert folder.startswith(f"run={summary['run_id']}") and latest_run(root, table, WEEK) == summary["run_id"]
    assert read_table(root, "samples", WEEK).sort_by("query_id").equals(before)
    manifest = read_manifest(root, WEEK, summary["run_id"])
    assert [s.stage for s in manifest.stages] == ["sample"]
    assert manifest.stages[0].tables["no_click_queries"] == 2


def test_missing_input_table_is_one_clear_error(first_run, tmp_path, capsys):
    logs, _, settings, _ = first_run
    broken = tmp_path / "logs"
    shutil.copytree(logs, broken, ignore=shutil.ignore_patterns("clicks"))
    with pytest.raises(InputError, match=r"logs .*: table folder 'clicks/' is missing"):
        run_sample(broken, tmp_path / "wh", WEEK, settings)
    code = cli_main(["sample", "--logs", str(broken), "--root", str(tmp_path / "wh"), "--week", WEEK])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("intentmine sample: error: logs ") and err.endswith("table folder 'clicks/' is missing") and "\n" not in err
    assert not (tmp_path / "wh" / "samples").exists()


def test_a_week_without_events_is_an_error(first_run, tmp_path):
    logs, _, settings, _ = first_run
    with pytest.raises(InputError, match="table search_events: no events in the week's partitions under"):
        run_sample(logs, tmp_path / "wh", "2026-W40", settings)
    with pytest.raises(InputError, match="expected an ISO week"):
        run_sample(logs, tmp_path / "wh", "2026-47", settings)


def test_at_helper_is_utc():
    assert at(0).tzinfo == dt.timezone.utc


def test_command_line_flags_override_settings_and_bad_ones_are_one_line(capsys):
    from jobs.common.settings import get_settings, overlay

    settings = overlay(get_settings(), {"sample.per_category": 5, "sample.seed": 3, "sample.max_products": None})
    assert (settings.sample.per_category, settings.sample.seed) == (5, 3)
    assert cli_main(["sample", "--logs", "x", "--root", "y", "--week", WEEK, "--per-category", "0"]) == 2
    assert capsys.readouterr().err.strip() == ("intentmine sample: error: --per-category: "
                                               "Input should be greater than or equal to 1")


def test_spark_submit_entry_point_reports_bad_input(first_run, tmp_path, capsys):
    from jobs.sample.submit import main as job_main

    assert job_main(["--logs", str(tmp_path / "none"), "--root", str(tmp_path), "--week", WEEK]) == 2
    assert "table folder 'search_events/' is missing" in capsys.readouterr().err
