"""The ``intentmine`` command: one clear line and exit 2 on bad input, a summary on success."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = [sys.executable, "-m", "jobs.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*BIN, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize("args, words", [
    (["generate-logs"], "the following arguments are required: --out"),
    (["generate-logs", "--out", "x", "--days", "0"], "argument --days: expected a whole number >= 1, got 0"),
    (["generate-logs", "--out", "x", "--start", "2026-13-01"], "--start '2026-13-01': expected a date"),
    (["run", "--logs", "nowhere", "--root", "r", "--week", "2026-W47"], "table folder 'search_events/' is missing"),
    (["run", "--logs", "l", "--root", "r", "--week", "47"], "--week '47': expected an ISO week"),
    (["run", "--logs", "l", "--root", "r", "--week", "2026-W47", "--from", "nope"], "unknown stage 'nope'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if "error" in l.lower() or "Traceback" in l]
    assert len(lines) == 1, out.stderr
    assert words in lines[0] and lines[0] == out.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x").exists() and not (tmp_path / "r").exists()


def test_corrupt_log_table_is_named(small_logs, tmp_path):
    import shutil

    logs = tmp_path / "logs"
    shutil.copytree(small_logs, logs, ignore=shutil.ignore_patterns("images"))
    part = next((logs / "clicks").rglob("*.parquet"))
    part.write_bytes(b"not parquet at all")
    out = run("run", "--logs", str(logs), "--root", str(tmp_path / "wh"), "--week", "2026-W47", "--to", "validate")
    assert out.returncode == 2
    assert f"logs file {part}: not a readable Parquet file" in out.stderr


def test_demo_generates_and_runs_every_stage(tmp_path):
    out = run("demo", "--root", str(tmp_path / "demo"), "--queries", "300", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "logs written to" in out.stdout and "week 2026-W47" in out.stdout
    assert "search_events" in out.stdout
    assert (tmp_path / "demo" / "logs" / "search_events").is_dir()
    import re

    from jobs.common.storage import read_table

    summary = re.search(r"tools: (\d+) proposed for review, ([\d.]+)% of the signals without a tool", out.stdout)
    assert summary, out.stdout[-800:]
    published = read_table(tmp_path / "demo" / "warehouse", "tools", "2026-W47")
    assert int(summary[1]) == published.num_rows > 0


def test_help_lists_every_command_of_the_spec():
    out = run("--help")
    assert out.returncode == 0
    for command in ("demo", "generate-logs", "run", "sample", "cache", "analyse", "ontology", "cluster",
                    "tools", "replay", "report", "review"):
        assert f"    {command}" in out.stdout, command
