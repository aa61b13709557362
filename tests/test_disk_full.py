"""A full disk mid-run: one line naming the path, exit 2, and the warehouse exactly as it was.

The warehouse lives on a small tmpfs this test mounts (we run as root in CI). Two weeks
are committed, the second week's inputs then change, and its ``tools`` rerun is given a
little less room each time than it needs, one page more per attempt, until it fits: so
it runs out of space at every write in turn (locks, tool list, tables, SFT export,
registry snapshot, ``tools.json``, manifest, pointer). After every failure the readers
still see the committed run, and every file (registry, pointer, manifests, exports) is
byte-identical to before, with nothing left beside it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.common.storage import latest_run, read_table
from jobs.tools.stage import run_tools
from tests.mounts import tmpfs
from tests.tools.conftest import RUN, settings, write_week
from tests.tools.test_identity import W1, W2, week1

PAGE = 4096


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch):
    """The CLI with the tools command only, so other stages' work in progress cannot break it."""
    import jobs.cli

    monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", ("jobs.tools.cli",))


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path, "size=3m") as mount:
        yield mount


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``root``."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def fill(mount: Path, leave_pages: int) -> Path:
    """A file that leaves exactly ``leave_pages`` free pages on the tmpfs."""
    stat = os.statvfs(mount)
    filler = mount / "filler"
    with open(filler, "wb") as out:
        out.write(b"\0" * (stat.f_bavail * stat.f_frsize - leave_pages * PAGE))
    assert os.statvfs(mount).f_bavail == leave_pages
    return filler


def test_a_full_disk_leaves_the_committed_run_and_the_registry_as_they_were(small_disk, monkeypatch, capsys):
    root = small_disk / "wh"
    monkeypatch.setenv("INTENTMINE_RUN_ID", RUN)  # the CLI run has the test settings (same run id)
    monkeypatch.setenv("INTENTMINE_TOOLS__MIN_AUX_SIZE", "2")
    monkeypatch.setenv("INTENTMINE_TOOLS__RETIRE_AFTER_WEEKS", "2")
    write_week(root, W1, week1())
    run_tools(None, root, W1, settings())
    second = [(q.replace("q", "r"), *rest) for q, *rest in week1()]
    write_week(root, W2, second)
    run_tools(None, root, W2, settings())
    committed = read_table(root, "tools", W2)
    write_week(root, W2, second + [("r9", "price", "price drop", None, "cheaper please", "cheap")])
    before = snapshot(root)

    lines: list[str] = []
    for pages in range(60):
        filler = fill(small_disk, pages)
        code = main(["-q", "tools", "--root", str(root), "--week", W2])
        err = capsys.readouterr().err
        filler.unlink()
        if code == 0:
            break
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        line = err.strip()
        assert line.startswith("intentmine tools: error: No space left on device: "), line
        assert line.split("device: ", 1)[1].startswith(str(root)), line  # names the path
        lines.append(line)
        assert snapshot(root) == before, f"with {pages} free pages the warehouse changed: {line}"
        assert latest_run(root, "tools", W2) == RUN
        assert read_table(root, "tools", W2).equals(committed)
    else:
        pytest.fail("the tools run never fitted")
    places = {line.split("device: ", 1)[1].removeprefix(str(root)) for line in lines}
    for part in ("/_locks/", "/_registry/tool_lists/", "/tools/week=", "/training_samples/week=",
                 "/exports/sft/", "/_registry/tools/week=", "/_registry/tools.json", "/_manifests/week=2026-W48/run=",
                 "/_manifests/week=2026-W48/_COMMITTED.json"):
        assert any(p.startswith(part) for p in places), (part, sorted(places))
    assert not any(name.endswith(".tmp") or name.split("/")[-1] in ("_staging", "_trash")
                   for name in snapshot(root))
    assert read_table(root, "tools", W2).num_rows == committed.num_rows + 1  # with room, it commits
    assert "_registry/tool_lists/v0003.json" in snapshot(root)  # the new tool's list, only once it fitted


def test_a_full_disk_during_the_sample_stages_spark_write_is_one_line(small_logs, small_disk):
    """Spark's executors hit ENOSPC writing ``samples``: one line and exit 2 (Spark's own stack
    traces stay quiet at ``spark.log_level`` FATAL), and nothing is left of the run."""
    import sys

    root = small_disk / "wh"
    fill(small_disk, leave_pages=40)  # room for the small tables, not for samples
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "-q", "sample", "--logs", str(small_logs),
                          "--root", str(root), "--week", "2026-W47"],
                         capture_output=True, text=True, env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"})
    assert out.returncode == 2, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("intentmine sample: error:")]
    assert errors == [f"intentmine sample: error: No space left on device: {root} (a Spark write); "
                      "nothing was published"], out.stderr[-2000:]
    assert not any(w in out.stderr for w in ("Traceback", "Exception", "\tat org."))
    assert not root.exists()  # the run created the warehouse, and took it away again
    assert [p.name for p in small_disk.iterdir()] == ["filler"]
