"""Hostile strings in the report's data render as text: inline JSON, HTML text, attributes, SVG."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from jobs.report.stage import collect, inline_json, render, run_report
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week

W = "2026-W47"
PWN = "document.body.setAttribute('data-pwned','1')"
HOSTILE_MAIN = "<!--<script>"
HOSTILE_SUB = f'<img src=x onerror="{PWN}">'
HOSTILE_ACTION = f"<script>{PWN}</script> \u2028 & </script><!--"
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1400"]


@pytest.fixture
def hostile_week(tmp_path):
    signals = [(f"q{i}", HOSTILE_MAIN, HOSTILE_SUB, None, HOSTILE_ACTION, "<b>x</b>") for i in range(3)]
    signals += [("q9", "price", "price band", None, "cheaper options", "low")]
    write_week(tmp_path, W, signals)
    run_tools(None, tmp_path, W, settings())
    return tmp_path


def test_inline_json_holds_no_markup_and_round_trips():
    data = {"week": W, "run_id": "r", "title": HOSTILE_MAIN + HOSTILE_SUB + HOSTILE_ACTION}
    text = inline_json(data)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == data


def test_the_page_carries_hostile_strings_only_escaped(hostile_week):
    data = collect(hostile_week, W, "r1", settings())
    assert any(t["title"] == HOSTILE_SUB.lower() for t in data["tools"])  # the strings did reach the data
    data["run_id"] = "</title><script>alert(1)</script>"
    page = render(data)
    head, body = page.split("<script id=\"data\" type=\"application/json\">", 1)
    payload, rest = body.split("</script>", 1)
    assert json.loads(payload) == json.loads(json.dumps(data, default=str))
    assert "<script>alert(1)" not in head and "&lt;/title&gt;" in head
    assert HOSTILE_MAIN not in page and "onerror=\"" not in page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
def test_hostile_titles_render_as_text_in_headless_chromium(hostile_week, tmp_path_factory):
    path = run_report(None, hostile_week, W, settings())["report"]
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", f"file://{path}"],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)  # only what the script drew
    assert 'data-rendered="yes"' in body  # the script ran to the end: nothing broke the page
    assert "data-pwned" not in re.search(r"<body[^>]*>", body).group()  # no injected script or handler ran
    assert "<img" not in body
    assert "&lt;img src=x onerror=" in body  # the tool title shown as text
    assert "&lt;!--&lt;script&gt;" in body  # the main category shown as text
    tools = len(re.findall(r'<tr class="tool-row"', body))
    assert tools >= 2
