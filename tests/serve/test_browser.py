"""The app in real headless Chromium (Playwright with Debian's chromium): drill from a cluster to a
query and its photo, search, approve one tool and merge two from the review page, reload and see
both, then rerun clustering and check the survivor holds every action of the merged tool.

One app server (uvicorn in a thread) for the module; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from jobs.registry import tools as reg
from tests.serve.conftest import EVIL, W2, settings_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("chromium"),
                                                   reason="chromium not installed (make sysdeps installs it)")]


@pytest.fixture(scope="module")
def server(warehouse):
    import uvicorn

    from jobs.serve.stage import create_app

    root, logs = warehouse
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_server = uvicorn.Server(uvicorn.Config(create_app(root, logs, settings_for(root)), host="127.0.0.1",
                                               port=port, log_level="warning"))
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not app_server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(15_000)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        yield page
        browser.close()


def test_drill_from_a_cluster_to_a_query_and_its_photo(page, server, artifacts_dir):
    page.goto(f"{server}/explore?week={W2}")
    assert page.locator("#map circle").count() >= 3
    page.screenshot(path=str(artifacts_dir / "app-explore.png"), full_page=True)
    page.locator("#tree a.node", has_text="colour condition").first.click()
    page.wait_for_selector("#queries a.query")
    assert "colour condition" in page.locator("h1").inner_text()
    page.locator("#queries a.query").first.click()
    photo = page.locator("#query-photo")
    photo.wait_for()
    assert _loaded_width(photo) == 48  # the photo, served from the logs folder
    assert _loaded_width(page.locator("#products img.thumb").first) == 48
    assert page.locator("#description").inner_text().startswith("a photo of a shirt")
    assert "rule colour_mismatch" in page.locator("#reasoning").inner_text()
    page.screenshot(path=str(artifacts_dir / "app-query.png"), full_page=True)


def _loaded_width(img, seconds: float = 20) -> int:
    """The image's natural width once the browser has finished loading it (0 if it failed)."""
    deadline = time.time() + seconds
    while not img.evaluate("img => img.complete") and time.time() < deadline:
        time.sleep(0.1)
    return img.evaluate("img => img.naturalWidth")


def test_a_hostile_product_title_renders_as_text(page, server):
    page.goto(f"{server}/query?week=2026-W47&id=q0000")
    assert page.locator("#products td.title").first.inner_text() == EVIL
    assert page.locator("#products img[onerror]").count() == 0 and page.locator("main script").count() == 0
    assert page.dialogs == []


def test_search(page, server):
    page.goto(f"{server}/explore?week={W2}")
    page.fill("input[name=q]", "cheaper")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#queries")
    actions = page.locator("#queries tr td:nth-child(3)").all_inner_texts()
    assert actions and all("cheaper" in a for a in actions)


def _card(page, tool_id):
    return page.locator(f"div.card[id='{tool_id}']")


def test_approve_merge_reload_then_recluster_holds(page, server, warehouse, artifacts_dir):
    from jobs.pipeline import run_week
    from jobs.serve.data import load_week

    root, logs = warehouse
    registry = reg.load(root)
    ids = {t.title: t.tool_id for t in registry.tools.values()}
    approve, merged, survivor = ids["price band"], ids["brand condition"], ids["colour condition"]
    cfg = settings_for(root)
    before = load_week(root, W2, registry, False, 0.95).rows
    merged_actions = set(map(tuple, before.loc[before["tool_id"] == merged, ["query_id", "order"]].to_numpy()))
    survivor_actions = set(map(tuple, before.loc[before["tool_id"] == survivor, ["query_id", "order"]].to_numpy()))
    assert merged_actions and survivor_actions

    page.goto(f"{server}/review?week={W2}")
    form = _card(page, approve).locator("form.approve")
    form.locator("input[name=reviewer]").fill("ana")
    form.locator("input[name=reason]").fill("common and clear")
    form.locator("button").click()
    page.wait_for_selector("#message")
    assert "recorded" in page.locator("#message").inner_text()
    form = _card(page, merged).locator("form.merge")
    form.locator("select[name=value]").select_option(survivor)
    form.locator("input[name=reviewer]").fill("bo")
    form.locator("input[name=reason]").fill("same intent")
    form.locator("button").click()
    page.wait_for_selector("#message")
    assert "merge" in page.locator("#message").inner_text()

    page.reload()
    assert "approved" in _card(page, approve).locator("h2").inner_text()
    assert "retired" in _card(page, merged).locator("h2").inner_text()
    assert survivor in _card(page, merged).inner_text()
    _card(page, approve).scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "app-review.png"), full_page=False)

    run_week(logs, root, W2, cfg, "tools", "tools")  # the decisions take effect (and the next ontology is written)
    run_week(logs, root, W2, cfg, "cluster", "tools")  # then `intentmine run --from cluster` for this week
    registry = reg.load(root)
    assert registry.tools[approve].status == "approved" and registry.tools[merged].merged_into == survivor
    after = load_week(root, W2, registry, False, 0.95).rows
    held = set(map(tuple, after.loc[after["tool_id"] == survivor, ["query_id", "order"]].to_numpy()))
    assert merged_actions | survivor_actions <= held  # every action of the merged tool is in the survivor
    assert not (after["tool_id"] == merged).any()
    page.reload()
    card = _card(page, merged)
    assert "retired" in card.locator("h2").inner_text() and "pending" not in card.locator("h2").inner_text()
    assert page.locator("table.diff tr.review-effect").count() >= 2  # status changes marked as review effects


def test_a_form_on_another_origin_cannot_decide(page, server, warehouse):
    from jobs.registry.reviews import read_all

    before = len(read_all(warehouse[0]))
    tool = next(iter(reg.load(warehouse[0]).tools))
    page.set_content(f"""<form method="post" action="{server}/review"><input name="csrf" value="guess">
        <input name="action" value="reject"><input name="tool" value="{tool}"><input name="reviewer" value="eve">
        <button>go</button></form>""")
    page.click("button")
    page.wait_for_load_state()
    assert "refused" in page.content()
    assert len(read_all(warehouse[0])) == before
