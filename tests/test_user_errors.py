"""Every failure a user can cause is one line on stderr and exit 2, before any heavy work,
and leaves the warehouse untouched. None of these cases starts Spark."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from tests.mounts import tmpfs
from tests.sample.conftest import WEEK, at, event, product, write_logs

DAY = "date=2026-11-16"


@pytest.fixture
def logs(tmp_path) -> Path:
    events = [event("q1", at(0)), event("q2", at(60), user_id="u2")]
    impressions = [{"query_id": "q1", "rank": 1, "product_id": "p1", "similarity": 0.9}]
    clicks = [{"query_id": "q2", "product_id": "p1", "ts": at(65)}]
    return write_logs(tmp_path / "logs", events, impressions, clicks, [product("p1")])


def one_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "pydantic.dev" not in err
    return lines[0]


def sample(logs, root) -> list[str]:
    return ["-q", "sample", "--logs", str(logs), "--root", str(root), "--week", WEEK]


def _rewrite(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def test_a_text_file_named_parquet_is_named(capsys, logs, tmp_path):
    bad = logs / "search_events" / DAY / "part-x.parquet"
    bad.write_text("query_id,user_id\nq9,u9\n")
    line = one_line(capsys, sample(logs, tmp_path / "wh"))
    assert f"logs file {bad}: not a readable Parquet file" in line
    assert not (tmp_path / "wh").exists()


def test_a_column_of_the_wrong_type_is_named(capsys, logs, tmp_path):
    path = logs / "search_events" / DAY / "part-00000.parquet"
    _rewrite(path, lambda t: t.set_column(t.schema.get_field_index("ts"), "ts", pc.cast(t.column("ts"), pa.string())))
    line = one_line(capsys, sample(logs, tmp_path / "wh"))
    assert line.endswith(f"logs file {path}: column 'ts' is string, expected timestamp[us, tz=UTC] "
                         "(table search_events)")
    assert not (tmp_path / "wh").exists()


def test_a_missing_required_column_is_named(capsys, logs, tmp_path):
    path = logs / "search_events" / DAY / "part-00000.parquet"
    _rewrite(path, lambda t: t.drop_columns(["user_agent"]))
    line = one_line(capsys, sample(logs, tmp_path / "wh"))
    assert f"logs file {path}: missing column 'user_agent' (string) of table search_events" in line


def test_validate_checks_files_and_leaves_rows_to_sample(capsys, logs, tmp_path):
    """An inf similarity is one bad row: validate passes it on (sample quarantines it)."""
    path = logs / "impressions" / DAY / "part-00000.parquet"
    _rewrite(path, lambda t: t.set_column(t.schema.get_field_index("similarity"), "similarity",
                                          pa.array([float("inf")], pa.float32())))
    argv = ["-q", "run", "--logs", str(logs), "--root", str(tmp_path / "wh"), "--week", WEEK, "--to", "validate"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "search_events 2" in out and "impressions 1" in out and "empty_partitions 18" in out
    (logs / "impressions" / DAY / "part-00000.parquet").write_bytes(b"garbage")
    assert "impressions" in one_line(capsys, argv)


@pytest.mark.parametrize("command", [["sample", "--logs", "LOGS"], ["cache"], ["analyse"], ["tools"],
                                     ["report"], ["review"]])
def test_a_root_that_is_a_file(capsys, logs, tmp_path, command):
    root = tmp_path / "root.txt"
    root.write_text("not a folder")
    argv = ["-q", *[str(logs) if c == "LOGS" else c for c in command], "--root", str(root)]
    argv += ["list"] if command == ["review"] else ["--week", WEEK]
    line = one_line(capsys, argv)
    assert f"--root {root}: is a file" in line
    assert root.read_text() == "not a folder"


@pytest.fixture
def read_only_root(tmp_path):
    with tmpfs(tmp_path, "ro,size=1m") as mount:
        yield mount


@pytest.mark.parametrize("command", [["tools"], ["report"], ["cache"], ["review", "approve", "t1"]])
def test_a_read_only_root(capsys, read_only_root, command):
    argv = ["-q", command[0], "--root", str(read_only_root / "wh"), *command[1:]]
    if command[0] != "review":
        argv += ["--week", WEEK]
    line = one_line(capsys, argv)
    assert f"--root {read_only_root / 'wh'}: cannot write in {read_only_root}" in line
    assert os.listdir(read_only_root) == []


def test_review_list_may_read_a_read_only_root(capsys, read_only_root):
    assert main(["-q", "review", "--root", str(read_only_root), "list"]) in (0, 2)
    assert "cannot write" not in capsys.readouterr().err


def test_bad_option_values_are_one_line(capsys, tmp_path):
    line = one_line(capsys, ["-q", "analyse", "--root", str(tmp_path), "--week", WEEK, "--concurrency", "0"])
    assert line == "intentmine analyse: error: --concurrency: Input should be greater than or equal to 1"


def test_a_bad_setting_from_the_environment_is_one_line(capsys, monkeypatch, logs, tmp_path):
    monkeypatch.setenv("INTENTMINE_SAMPLE__PER_CATEGORY", "many")
    line = one_line(capsys, sample(logs, tmp_path / "wh"))
    assert "setting sample.per_category" in line


def test_an_os_error_names_the_path(capsys, tmp_path):
    """A warehouse whose reports folder is a file: the write fails with the path, not a traceback."""
    from jobs.tools.stage import run_tools
    from tests.tools.conftest import settings, write_week
    from tests.tools.test_identity import week1

    write_week(tmp_path, WEEK, week1())
    run_tools(None, tmp_path, WEEK, settings())
    (tmp_path / "reports").write_text("in the way")
    line = one_line(capsys, ["-q", "report", "--root", str(tmp_path), "--week", WEEK])
    assert str(tmp_path / "reports") in line
