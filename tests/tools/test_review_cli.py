"""`review` by index or id, list sorted / filtered / as JSON, decisions filed under the week reviewed,
and `retired` in the tools summary counting merges."""

import json

import pytest

from jobs.cli import main
from jobs.common.storage import read_table
from jobs.registry.reviews import read_all
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week
from tests.tools.test_identity import W1, W2, week1


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    import jobs.cli

    monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", ("jobs.tools.cli", "jobs.review.cli"))


@pytest.fixture
def two_weeks(tmp_path):
    for week in (W1, W2):
        write_week(tmp_path, week, week1())
        run_tools(None, tmp_path, week, settings())
    return tmp_path


def review(root, *args) -> int:
    return main(["review", "--root", str(root), *args])


def test_index_or_id_and_the_week_reviewed(two_weeks, capsys):
    tools = read_table(two_weeks, "tools", W1).to_pandas().set_index("title")
    index, tool_id = int(tools.loc["price band", "index"]), tools.loc["price band", "tool_id"]
    assert review(two_weeks, "--week", W1, "approve", str(index), "--reviewer", "ana") == 0
    assert f"approve {tool_id} (index {index})" in capsys.readouterr().out
    assert review(two_weeks, "reject", f"#{index}", "--reviewer", "bo") == 0  # default: the newest week
    capsys.readouterr()
    assert [(d["tool_id"], d["action"]) for d in read_all(two_weeks)] == [(tool_id, "approve"), (tool_id, "reject")]
    assert (two_weeks / "review_decisions" / f"week={W1}").is_dir() and (two_weeks / "review_decisions" / f"week={W2}").is_dir()
    assert review(two_weeks, "approve", "999", "--reviewer", "ana") == 2
    assert "unknown tool index 999" in capsys.readouterr().err
    assert review(two_weeks, "--week", "2026-W30", "approve", "1", "--reviewer", "ana") == 2
    assert "no published tool list for that week" in capsys.readouterr().err
    assert review(two_weeks, "approve", "1", "--reviewer", "  ") == 2
    assert "reviewer name is required" in capsys.readouterr().err
    assert len(read_all(two_weeks)) == 2


def test_list_sorts_filters_and_prints_json(two_weeks, capsys):
    tools = read_table(two_weeks, "tools", W2).to_pandas()
    assert review(two_weeks, "list", "--sort", "share", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["share"] for r in rows] == sorted(tools["traffic_share"], reverse=True)
    assert {r["week"] for r in rows} == {W2}
    first = rows[0]["tool_id"]
    assert review(two_weeks, "approve", first, "--reviewer", "ana") == 0
    capsys.readouterr()
    assert review(two_weeks, "list", "--status", "approved", "--json") == 0
    approved = json.loads(capsys.readouterr().out)
    assert [(r["tool_id"], r["status"], r["pending_status"]) for r in approved] == [(first, "proposed", "approved")]
    assert review(two_weeks, "list", "--sort", "share") == 0
    text = capsys.readouterr().out
    assert "share" in text.splitlines()[0] and "1 decision(s) pending" in text


def test_retired_in_the_summary_counts_merges(two_weeks, capsys):
    ids = read_table(two_weeks, "tools", W2).to_pandas().set_index("title")["tool_id"]
    assert review(two_weeks, "merge", ids["brand condition"], ids["colour condition"], "--reviewer", "ana") == 0
    counts = run_tools(None, two_weeks, W2, settings())
    assert counts["retired"] == 1 and counts["decisions_applied"] == 1
    tools = read_table(two_weeks, "tools", W2).to_pandas().set_index("tool_id")
    assert tools.loc[ids["brand condition"], "merged_into"] == ids["colour condition"]
    both = read_table(two_weeks, "tools", W1).to_pandas().set_index("tool_id")["n_actions"]
    assert tools.loc[ids["colour condition"], "n_actions"] == both[ids["colour condition"]] + both[ids["brand condition"]]
