"""The HTML report: self-contained, degrades without inputs, renders in headless Chromium."""

import re
import shutil
import subprocess

import pytest

from jobs.common.storage import read_table
from jobs.report.stage import collect, run_report
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week
from tests.tools.test_identity import W1, W2, week1

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1400"]


@pytest.fixture
def two_weeks(tmp_path):
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, settings())
    write_week(tmp_path, W2, week1() + [("q9", "price", "price band", None, "cheaper options", "low")])
    run_tools(None, tmp_path, W2, settings())
    return tmp_path


def test_report_is_self_contained_and_complete(two_weeks):
    path = run_report(None, two_weeks, W2, settings())["report"]
    html = open(path, encoding="utf-8").read()
    assert path.endswith(f"reports/week={W2}/run=r1/report.html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched from a network
    data = collect(two_weeks, W2, "r1", settings())
    assert data["headline"]["signals"] == 8 and data["headline"]["noise_share"] == pytest.approx(1 / 8)
    assert {b["name"] for b in data["tree"]} >= {"search condition refinement", "price", "noise"}
    assert data["changes"] and data["tools"] and data["stages"][0]["stage"] == "tools"
    price = next(t for t in data["tools"] if t["title"] == "price band")
    assert price["share_change"] is not None


def test_missing_inputs_say_not_available(tmp_path):
    data = collect(tmp_path, W1, "r1", settings())
    assert data["tree"] is None and data["tools"] is None and data["stages"] is None
    assert data["headline"]["cache_hit_rate"] is None
    path = run_report(None, tmp_path, W1, settings())["report"]
    assert "not available" in open(path, encoding="utf-8").read()


def _chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
def test_report_renders_in_headless_chromium(two_weeks, tmp_path_factory, artifacts_dir):
    path = run_report(None, two_weeks, W2, settings())["report"]
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = _chromium(["--dump-dom", f"file://{path}"], profile).stdout
    body = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)  # only what the script drew
    assert 'data-rendered="yes"' in body
    assert len(re.findall(r'<rect class="node level-main"', body)) == 4  # 2 main categories, aux, noise
    assert len(re.findall(r'<rect class="node level-sub"', body)) >= 4
    tools = read_table(two_weeks, "tools", W2).num_rows
    assert len(re.findall(r'<tr class="tool-row"', body)) == tools
    assert "colour condition" in body and "not available" in body  # the missing cache rate
    shot = artifacts_dir / "report.png"
    shot.unlink(missing_ok=True)
    _chromium([f"--screenshot={shot}", f"file://{path}"], profile)
    assert shot.exists() and shot.stat().st_size > 10_000
