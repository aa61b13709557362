"""Stable tool ids and indices over three weeks with a rename, a merge and a retirement."""

import json

import pytest

from jobs.cli import main
from jobs.common.storage import read_table
from jobs.registry import tools as reg
from jobs.common.storage import export_path
from jobs.tools.stage import run_tools
from tests.tools.conftest import RUN, settings, write_week

SCR = "search condition refinement"
W1, W2, W3 = "2026-W47", "2026-W48", "2026-W49"


def week1():
    return [("q1", SCR, "colour condition", None, "add black colour filter", "black"),
            ("q1", SCR, "brand condition", None, "add brand Blendy", "Blendy"),
            ("q2", SCR, "colour condition", None, "refine colour to red", "red"),
            ("q3", "price", "price band", None, "segment price range", "high-end"),
            ("q4", None, None, 3, "show more angles", "side view"),
            ("q5", None, None, 3, "show more angles", "back view"),
            ("q5", None, None, -1, "something odd", "x")]


def tools_of(root, week):
    return read_table(root, "tools", week).to_pandas().set_index("tool_id")


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    """The CLI with this stage's commands only, so other stages' work in progress cannot break it."""
    import jobs.cli

    monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", ("jobs.tools.cli", "jobs.review.cli"))


def review(root, *args):
    return main(["review", "--root", str(root), *args])


def test_three_weeks_rename_merge_retire(tmp_path, capsys):
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, settings())
    t1 = tools_of(tmp_path, W1)
    by_title = {row.title: tid for tid, row in t1.iterrows()}
    colour, brand, price, angles = (by_title[t] for t in
                                    ("colour condition", "brand condition", "price band", "show more angles"))
    assert sorted(t1["index"]) == [1, 2, 3, 4]

    assert review(tmp_path, "rename", colour, "colour filter", "--reviewer", "ana", "--reason", "clearer") == 0
    assert review(tmp_path, "merge", price, brand, "--reviewer", "ana", "--reason", "same operation") == 0
    assert review(tmp_path, "approve", angles, "--reviewer", "bo") == 0
    # week 2: the ontology now says "colour filter"; price band still shows up; no aux cluster 3
    write_week(tmp_path, W2, [
        ("r1", SCR, "colour filter", None, "black colour please", "black"),
        ("r2", "price", "price band", None, "segment price range", "low"),
        ("r2", SCR, "brand condition", None, "brand logo", "Nike"),
        ("r3", SCR, "material condition", None, "leather only", "leather")])
    run_tools(None, tmp_path, W2, settings())
    t2 = tools_of(tmp_path, W2)
    assert t2.loc[colour, "title"] == "colour filter" and t2.loc[colour, "n_actions"] == 1
    assert t2.loc[price, "status"] == "retired" and t2.loc[price, "merged_into"] == brand
    assert t2.loc[brand, "n_queries"] == 1 and t2.loc[brand, "n_actions"] == 2  # merged group counts
    assert t2.loc[angles, "status"] == "approved"
    material = t2[t2["title"] == "material condition"].index[0]
    assert t2.loc[material, "index"] == 5
    samples = read_table(tmp_path, "training_samples", W2).to_pandas().set_index("query_id")
    assert list(samples.loc["r2", "tool_indices"]) == [t1.loc[brand, "index"]]  # once, for the survivor

    # week 3: aux cluster 3 unseen for two weeks -> retired; a new group gets a new index
    write_week(tmp_path, W3, [("s1", SCR, "colour filter", None, "only black", "black"),
                              ("s2", SCR, "pattern condition", None, "striped", "stripes")])
    run_tools(None, tmp_path, W3, settings())
    t3 = tools_of(tmp_path, W3)
    assert t3.loc[angles, "status"] == "retired"
    assert t3[t3["title"] == "pattern condition"]["index"].item() == 6
    for tid, row in t1.iterrows():  # an index never changes meaning
        assert t2.loc[tid, "index"] == row["index"] == t3.loc[tid, "index"]
    assert t3["index"].is_unique and sorted(t3["index"]) == [1, 2, 3, 4, 5, 6]
    assert list(t3["list_version"].unique()) == [3]

    # approving the retired tool is an illegal transition: one line, exit 2
    capsys.readouterr()
    assert review(tmp_path, "approve", angles) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"tool {angles} is retired: cannot approve it" in err[0]


def test_rerun_is_idempotent_and_versions_are_immutable(tmp_path):
    write_week(tmp_path, W1, week1())
    first = run_tools(None, tmp_path, W1, settings())
    version_file = tmp_path / "_registry" / "tool_lists" / "v0001.parquet"
    stamp = version_file.stat().st_mtime_ns
    again = run_tools(None, tmp_path, W1, settings())
    assert first["list_version"] == again["list_version"] == 1 and again["new_tools"] == 0
    assert version_file.stat().st_mtime_ns == stamp
    assert read_table(tmp_path, "tools", W1).num_rows == 4


def test_sft_export_is_chat_format(tmp_path):
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, settings())
    tools = read_table(tmp_path, "tools", W1).to_pandas().set_index("title")
    lines = export_path(tmp_path, W1, RUN).read_text().splitlines()
    records = {r["id"]: r for r in map(json.loads, lines)}
    assert set(records) == {"q1", "q2", "q3", "q4", "q5"}  # every query with an active tool
    q1 = records["q1"]
    assert [m["role"] for m in q1["messages"]] == ["system", "user", "assistant"]
    assert q1["tool_list_version"] == 1
    system, user, answer = (m["content"] for m in q1["messages"])
    colour, brand = tools.loc["colour condition", "index"], tools.loc["brand condition", "index"]
    assert system.endswith("Tool list version 1.")  # indices are stable: no catalogue needed
    catalogue = json.loads(export_path(tmp_path, W1, RUN).with_name("tools.json").read_text())
    assert {(t["index"], t["title"]) for t in catalogue["tools"]} >= {(colour, "colour condition"),
                                                                      (brand, "brand condition")}
    assert user[0] == {"type": "image_url", "image_url": {"url": "images/q1.png"}}
    assert user[1]["type"] == "text" and "[1] item 1 | price 10" in user[1]["text"]
    assert answer == (f"Reasoning: reasoning of q1\nTools: ({colour}) ({brand})\n"
                      f"Info:\n({colour}) black\n({brand}) Blendy")
    run_tools(None, tmp_path, W1, settings(sft_catalogue=True))
    system = json.loads(export_path(tmp_path, W1, RUN).read_text().splitlines()[0])["messages"][0]["content"]
    assert f"({colour}) colour condition [{SCR} › colour condition]" in system


def test_the_registry_refuses_bad_transitions():
    registry = reg.ToolRegistry()
    reg.observe(registry, [{"key": "sub::a::b", "kind": "sub", "main_category": "a", "subcategory": "b",
                            "aux_cluster": None, "size": 3, "title": "b"}], W1, 2)
    tid = next(iter(registry.tools))
    with pytest.raises(Exception, match="unknown tool id 't-nope'"):
        reg.apply_decision(registry, {"tool_id": "t-nope", "action": "approve"})
    with pytest.raises(Exception, match="cannot be merged into itself"):
        reg.apply_decision(registry, {"tool_id": tid, "action": "merge", "value": tid})
    assert reg.apply_decision(registry, {"tool_id": tid, "action": "retire"})
    with pytest.raises(Exception, match="is retired: cannot rename it"):
        reg.apply_decision(registry, {"tool_id": tid, "action": "rename", "value": "x"})


def test_a_week_with_only_noise_and_other_publishes_an_empty_list(tmp_path):
    write_week(tmp_path, W1, [("q1", None, None, -1, "odd", "x"), ("q2", "price", "other", None, "meh", "")])
    counts = run_tools(None, tmp_path, W1, settings())
    assert counts["tools"] == 0 and counts["training_samples"] == 0
    assert read_table(tmp_path, "training_samples", W1).num_rows == 0
    assert export_path(tmp_path, W1, RUN).read_text() == ""
