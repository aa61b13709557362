"""Approved tools feed the next ontology version, with a readable diff."""

import yaml

from jobs.review.actions import decide
from jobs.common.storage import read_table
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week
from tests.tools.test_identity import SCR, W1, W2, week1

BASE = {"name": "visual-search-tools", "version": 1, "categories": [
    {"name": SCR, "keywords": ["refine", "condition"], "subcategories": [
        {"name": "colour condition", "keywords": ["colour", "black"]},
        {"name": "brand condition", "keywords": ["brand", "logo"]}]},
    {"name": "price", "keywords": ["price"], "subcategories": [
        {"name": "price band", "keywords": ["band", "segment"]}]}]}


def decision(tool_id, action, value=None):
    import datetime as dt

    return {"tool_id": tool_id, "action": action, "value": value, "reviewer": "ana", "reason": "test",
            "ts": dt.datetime.now(dt.timezone.utc), "decision_id": None}


def test_approved_tools_make_the_next_version(tmp_path):
    base = tmp_path / "ontology.yaml"
    base.write_text(yaml.safe_dump(BASE, sort_keys=False))
    cfg = settings(ontology=str(base))
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, cfg)
    ids = {r["title"]: r["tool_id"] for r in read_table(tmp_path, "tools", W1).to_pylist()}
    for args in ((ids["brand condition"], "rename", "brand filter"), (ids["brand condition"], "approve"),
                 (ids["price band"], "merge", ids["brand condition"]), (ids["show more angles"], "approve")):
        decide(tmp_path, decision(*args))
    write_week(tmp_path, W2, week1())
    counts = run_tools(None, tmp_path, W2, cfg)
    path = tmp_path / "_registry" / "ontology" / "v0002.yaml"
    assert counts["ontology"] == str(path)
    onto = yaml.safe_load(path.read_text())
    assert onto["version"] == 2
    subs = {c["name"]: [s["name"] for s in c["subcategories"]] for c in onto["categories"]}
    assert subs == {SCR: ["colour condition", "brand filter"], "price": [], "new tools": ["show more angles"]}
    brand = onto["categories"][0]["subcategories"][1]
    assert brand["keywords"] == ["brand", "logo", "band", "segment"]  # the merged label's keywords join
    diff = path.with_suffix(".diff").read_text()
    assert "-  - name: brand condition" in diff and "+  - name: brand filter" in diff
    assert "+- name: new tools" in diff

    assert "ontology" not in run_tools(None, tmp_path, W2, cfg)  # a rerun proposes nothing new
    # next week clustering uses v2: the promoted cluster keeps its tool and index
    write_week(tmp_path, "2026-W49", [("z1", "new tools", "show more angles", None, "more angles", "top")])
    run_tools(None, tmp_path, "2026-W49", cfg)
    tools = read_table(tmp_path, "tools", "2026-W49").to_pandas().set_index("tool_id")
    assert tools.loc[ids["show more angles"], "n_actions"] == 1 and len(tools) == 4
