"""The review round trip: record with who, when and why; list; apply at the next tools run."""

import pytest

from jobs.cli import main
from jobs.common.storage import read_table
from jobs.registry.reviews import read_all
from jobs.registry import tools as reg
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week
from tests.tools.test_identity import W1, week1


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    import jobs.cli

    monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", ("jobs.tools.cli", "jobs.review.cli"))


@pytest.fixture
def week(tmp_path):
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, settings())
    return tmp_path


def review(root, *args) -> int:
    return main(["review", "--root", str(root), *args])


def test_round_trip(week, capsys):
    tool = read_table(week, "tools", W1).to_pandas().set_index("title").loc["price band", "tool_id"]
    args = ("reject", tool, "--reviewer", "ana", "--reason", "too rare", "--decision-id", "d-1")
    assert review(week, *args) == 0
    assert "recorded d-1: reject" in capsys.readouterr().out
    assert review(week, *args) == 0  # the same decision id again: nothing new
    assert "already recorded" in capsys.readouterr().out
    [decision] = read_all(week)
    assert (decision["reviewer"], decision["reason"], decision["action"]) == ("ana", "too rare", "reject")
    assert decision["ts"].tzinfo is not None

    assert review(week, "list") == 0
    listing = capsys.readouterr().out
    line = next(l for l in listing.splitlines() if tool in l)
    assert "proposed  rejected" in line and "1 decision(s) pending" in listing
    assert reg.load(week).tools[tool].status == "proposed"  # not applied before the next run

    counts = run_tools(None, week, W1, settings())
    assert counts["decisions_applied"] == 1 and counts["list_version"] == 2
    tools = read_table(week, "tools", W1).to_pandas().set_index("tool_id")
    assert tools.loc[tool, "status"] == "rejected"
    index = tools.loc[tool, "index"]
    samples = read_table(week, "training_samples", W1).to_pandas()
    assert all(index not in list(l) for l in samples["tool_indices"])  # rejected tools train nothing
    assert run_tools(None, week, W1, settings())["decisions_applied"] == 0


@pytest.mark.parametrize("args, words", [
    (["approve", "t-nope"], "unknown tool id 't-nope'"),
    (["merge", "t-nope", "t-other"], "unknown tool id 't-nope'"),
    (["rename", "t-nope", "x"], "unknown tool id 't-nope'"),
])
def test_bad_decisions_are_one_line_and_exit_2(week, capsys, args, words):
    assert review(week, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
    assert read_all(week) == []


def test_same_id_with_other_content_is_refused(week, capsys):
    tools = read_table(week, "tools", W1).to_pylist()
    assert review(week, "approve", tools[0]["tool_id"], "--decision-id", "d-9") == 0
    assert review(week, "reject", tools[1]["tool_id"], "--decision-id", "d-9") == 2
    assert "d-9 is already recorded with different content" in capsys.readouterr().err
