"""The app over HTTP (Starlette's test client): escaping, the cross-site guard, bad decisions,
two reviewers at once, photos confined to the logs folder, and the SQL views."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from jobs.registry.reviews import read_all
from jobs.serve.stage import COOKIE, create_app
from tests.serve.conftest import W1, W2, settings_for


@pytest.fixture(scope="module")
def client(warehouse):
    root, logs = warehouse
    return TestClient(create_app(root, logs, settings_for(root)), base_url="http://127.0.0.1:8750")


def token(client) -> str:
    client.get("/review")
    return client.cookies[COOKIE]


def tool_ids(warehouse) -> dict[str, str]:
    from jobs.registry import tools as reg

    return {t.title: t.tool_id for t in reg.load(warehouse[0]).tools.values()}


def test_user_text_is_escaped(client):
    page = client.get("/query", params={"id": "q0000", "week": W1})
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script" not in page.text and "onerror=alert" not in page.text.replace("onerror=alert(1)&gt;", "")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script runs
    search = client.get("/search", params={"q": "<b>colour</b>", "week": W1})
    assert "&lt;b&gt;colour&lt;/b&gt;" in search.text and "<b>colour</b>" not in search.text


def test_cross_site_posts_are_refused_and_change_nothing(client, warehouse):
    ids = tool_ids(warehouse)
    before = len(read_all(warehouse[0]))
    form = {"action": "approve", "tool": ids["price band"], "reviewer": "mallory", "week": W2}
    assert client.post("/review", data=form).status_code == 403  # no token
    good = token(client)
    evil = client.post("/review", data={**form, "csrf": good}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "another origin" in evil.text
    wrong = client.post("/review", data={**form, "csrf": "x" * 43})
    assert wrong.status_code == 403 and "security token" in wrong.text
    assert client.get("/review").status_code == 200 and len(read_all(warehouse[0])) == before


@pytest.mark.parametrize("change, words", [
    ({"reviewer": ""}, "a reviewer name is required"),
    ({"tool": "t-nope"}, "unknown tool id 't-nope'"),
    ({"tool": "999"}, "unknown tool index 999"),
    ({"action": "merge", "value": "SELF"}, "cannot be merged into itself"),
    ({"action": "rename", "value": "   "}, "the new title is empty"),
])
def test_bad_decisions_get_a_clear_message_and_change_nothing(client, warehouse, change, words):
    ids = tool_ids(warehouse)
    form = {"csrf": token(client), "action": "approve", "tool": ids["price band"], "reviewer": "ana", "week": W2}
    form.update(change)
    if form.get("value") == "SELF":
        form["value"] = form["tool"]
    before = len(read_all(warehouse[0]))
    page = client.post("/review", data=form, headers={"Origin": "http://127.0.0.1:8750"})
    assert page.status_code == 400 and words in re.sub(r"&#39;", "'", page.text)
    assert len(read_all(warehouse[0])) == before


def test_two_reviewers_at_once_both_recorded_and_merge_into_retired_refused(client, warehouse):
    ids = tool_ids(warehouse)
    good = token(client)
    results = []

    def post(form):
        results.append(client.post("/review", data={"csrf": good, "week": W2, **form}, follow_redirects=False))

    forms = [{"action": "merge", "tool": ids["price band"], "value": ids["colour condition"], "reviewer": "ana"},
             {"action": "rename", "tool": ids["brand condition"], "value": "brand from the logo", "reviewer": "bo"}]
    threads = [threading.Thread(target=post, args=(f,)) for f in forms]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in results] == [303, 303]
    decisions = read_all(warehouse[0])
    assert {(d["action"], d["reviewer"]) for d in decisions} >= {("merge", "ana"), ("rename", "bo")}
    assert all(d["run_id"].startswith("review-") for d in decisions)
    assert (warehouse[0] / "review_decisions" / f"week={W2}").is_dir()  # filed under the week reviewed
    # the merged tool is retired (pending): merging into it now is refused
    page = client.post("/review", data={"csrf": good, "week": W2, "action": "merge", "tool": ids["brand condition"],
                                        "value": ids["price band"], "reviewer": "cy"})
    assert page.status_code == 400 and "is retired: cannot merge into it" in page.text
    review = client.get("/review", params={"week": W2}).text
    assert "pending next tools run" in review and "brand from the logo" in review


def test_the_merge_holds_after_reclustering(warehouse):
    """After the merge above, `run --from tools` then `run --from cluster`: the survivor holds every action
    of both tools (before the fix, the ontology lost the merged label and its actions scattered)."""
    from jobs.pipeline import run_week
    from jobs.registry import tools as reg
    from jobs.serve.data import load_week

    root, logs = warehouse
    ids = tool_ids(warehouse)
    merged, survivor = ids["price band"], ids["colour condition"]
    before = load_week(root, W2, reg.load(root), False, 0.95).rows
    expected = set(map(tuple, before.loc[before["tool_id"].isin([merged, survivor]), ["query_id", "order"]].to_numpy()))
    run_week(logs, root, W2, settings_for(root), "tools", "tools")  # applies the merge (and writes the ontology)
    for _ in range(2):  # `run --from cluster`, twice: the next clustering and the one after
        run_week(logs, root, W2, settings_for(root), "cluster", "tools")
        registry = reg.load(root)
        assert registry.tools[merged].merged_into == survivor
        after = load_week(root, W2, registry, False, 0.95).rows
        held = set(map(tuple, after.loc[after["tool_id"] == survivor, ["query_id", "order"]].to_numpy()))
        assert held >= expected and not (after["tool_id"] == merged).any()


def test_photos_only_from_inside_the_logs_folder(client, warehouse):
    root, logs = warehouse
    ok = client.get("/photo/query", params={"id": "q0000", "week": W1})
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    from jobs.serve.stage import Warehouse

    house = Warehouse(root, logs, settings_for(root))
    assert house.photo(W1, "images/q0000.png") is not None
    for uri in ("../warehouse/ontology.yaml", "/etc/passwd", "images/../../warehouse/_registry/tools.json",
                "file:///etc/passwd", "images/missing.png"):
        assert house.photo(W1, uri) is None, uri
    assert client.get("/photo/query", params={"id": "nope", "week": W1}).status_code == 404


def test_sql_views_read_the_latest_run_once(warehouse, capsys):
    from jobs.cli import main
    from jobs.pipeline import run_week
    from jobs.serve.sql import connect

    root, logs = warehouse
    con = connect(root)
    before = con.sql("SELECT week, count(*) FROM signals GROUP BY week ORDER BY week").fetchall()
    assert [w for w, _ in before] == [W1, W2]
    # a second run of a week (another run id) must not double count
    cfg = settings_for(root).model_copy(update={"run_id": "r2"})
    run_week(logs, root, W1, cfg, "cluster", "cluster")
    con = connect(root)
    assert con.sql("SELECT week, count(*) FROM assignments GROUP BY week ORDER BY week").fetchall() == before
    assert con.sql("SELECT DISTINCT run FROM assignments WHERE week = ?", params=[W1]).fetchall() == [("r2",)]
    assert main(["sql", "--root", str(root), "SELECT count(*) AS n FROM review_decisions"]) == 0
    assert re.search(r"\bn\b\s+\d+", capsys.readouterr().out)
    assert main(["sql", "--root", str(root), "SELECT * FROM nope"]) == 2
    assert "views:" in capsys.readouterr().err


def test_the_replay_shows_on_the_explore_page(client, warehouse):
    from jobs.replay.stage import run_replay

    root, _ = warehouse
    assert "Replay: would the tools" not in client.get("/explore", params={"week": W2}).text  # not replayed yet
    run_replay(None, root, W2, settings_for(root))  # no logs: no ground truth, relevance left empty
    page = client.get("/explore", params={"week": W2}).text
    assert "Replay: would the tools have fixed the searches?" in page
    row = re.search(r"<tr><td>all</td>(.*?)</tr>", page).group(1)
    assert row.count("–") == 4  # nothing judged without ground truth: shown as missing, not as 0 %
