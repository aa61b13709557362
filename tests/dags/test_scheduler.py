"""The weekly DAG under a real scheduler: Postgres, LocalExecutor, a two-week backfill in week order.

The services start once per session (tests/dags/conftest.py). The backfill command is the
README's; its tables must equal `intentmine run`'s, week 2 must reuse week 1's photos
through the cache, and clearing week 1 (rerunning it after week 2) must change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.dags.conftest import SMALL_SPARK, query
from tests.dags.services import REPO, wait_until

pytestmark = pytest.mark.slow

DAG = "intentmine_weekly"
WEEKS = {"2026-W46": "2026-11-16 03:00:00+00", "2026-W47": "2026-11-23 03:00:00+00"}
PER_CATEGORY = 20
FINISHED = ("success", "failed")


def runs(db, run_type: str | None = None) -> list[tuple]:
    sql = "select run_id, state, logical_date, run_type from dag_run where dag_id = %s"
    rows = query(db, sql + " order by logical_date", DAG)
    return [r for r in rows if run_type is None or r[3] == run_type]


def task_instances(db, run_id: str) -> dict[str, tuple]:
    rows = query(db, "select task_id, state, try_number, start_date, end_date from task_instance "
                     "where dag_id = %s and run_id = %s", DAG, run_id)
    return {r[0]: r[1:] for r in rows}


def wait_for_runs(db, run_type: str, count: int, timeout: float) -> list[tuple]:
    def finished():
        found = runs(db, run_type)
        return found if len(found) >= count and all(r[1] in FINISHED for r in found) else None
    return wait_until(finished, timeout, f"{count} {run_type} run(s) of {DAG} to finish", every=3)


def task_log(home: Path, run_id: str, task_id: str, attempt: int = 1) -> str:
    path = home / "logs" / f"dag_id={DAG}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={attempt}.log"
    return path.read_text()


def table_rows(root: Path) -> dict[str, str]:
    """Every published table's latest run per week: a hash of its rows (row order ignored)."""
    from jobs.common.storage import read_table, weeks
    from schemas.tables import TABLES

    out = {}
    for table in sorted(p.name for p in root.iterdir() if p.name in TABLES):
        for week in weeks(root, table):  # the latest committed run of each week
            data = read_table(root, table, week)
            rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist())
            out[f"{table}/week={week}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def registry(root: Path) -> dict:
    return json.loads((root / "_registry" / "tools.json").read_text())


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory) -> Path:
    from jobs.generate.logs import generate_logs

    logs = tmp_path_factory.mktemp("scheduler") / "logs"
    generate_logs(logs, start="2026-11-09", days=14, queries=1_500, seed=5, products=240,
                  query_image_pool=900, image_size=64)
    return logs


@pytest.fixture(scope="module")
def reference(two_weeks, tmp_path_factory) -> Path:
    """The same two weeks through `intentmine run`, week after week."""
    root = tmp_path_factory.mktemp("reference") / "warehouse"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYSPARK_PYTHON=sys.executable,
               INTENTMINE_SAMPLE__PER_CATEGORY=str(PER_CATEGORY), **SMALL_SPARK)
    for week in WEEKS:
        out = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--logs", str(two_weeks), "--root", str(root),
                              "--week", week], env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
    return root


def test_a_run_with_missing_logs_fails_at_its_first_task_in_one_line(scheduler):
    """Unpausing fires the latest scheduled run with no conf: its logs (INTENTMINE_LOGS) are missing."""
    scheduler.cli("dags", "unpause", DAG)
    (run_id, state, _, _), = wait_for_runs(scheduler.db, "scheduled", 1, timeout=240)
    assert state == "failed"
    tis = task_instances(scheduler.db, run_id)
    state, tries, start, end = tis["check_logs"]
    assert (state, tries) == ("failed", 1)  # retries=1 is for transient errors, not bad input
    assert (end - start).total_seconds() < 60
    assert {s for t, (s, *_) in tis.items() if t != "check_logs"} == {"upstream_failed"}
    line = f"intentmine validate: logs {scheduler.env['INTENTMINE_LOGS']}: no such folder"
    assert line in task_log(scheduler.home, run_id, "check_logs")


def test_a_backfill_runs_the_weeks_in_order_like_intentmine_run(scheduler, two_weeks, reference, tmp_path):
    db, root = scheduler.db, tmp_path / "warehouse"
    scheduler.cli("dags", "unpause", DAG)
    conf = json.dumps({"logs": str(two_weeks), "root": str(root), "per_category": PER_CATEGORY})
    # The README's command: the window's end is an instant, so Monday's 03:00 run needs the next day.
    backfill = ["backfill", "create", "--dag-id", DAG, "--from-date", "2026-11-16", "--to-date", "2026-11-24",
                "--max-active-runs", "1", "--reprocess-behavior", "failed", "--dag-run-conf", conf]
    dry = scheduler.cli(*backfill, "--dry-run").stdout
    assert "2026-11-16 03:00:00+00:00" in dry and "2026-11-23 03:00:00+00:00" in dry
    assert "2026-11-30" not in dry
    began = time.monotonic()
    scheduler.cli(*backfill)
    done = wait_for_runs(db, "backfill", 2, timeout=1500)
    print(f"\nbackfill of two weeks: {time.monotonic() - began:.0f}s (services started in {scheduler.started_in:.0f}s)")
    assert [r[1] for r in done] == ["success", "success"], done
    first, second = (task_instances(db, r[0]) for r in done)
    for ti in (first, second):
        print("  " + "  ".join(f"{t} {(ti[t][3] - ti[t][2]).total_seconds():.0f}s" for t in sorted(ti, key=lambda t: ti[t][2])))
    # Week order: week 2's cache started after week 1's analysis (which the cache reuses) ended.
    assert second["cache"][2] >= first["analyse"][3]
    assert max(t[3] for t in first.values()) <= min(t[2] for t in second.values())

    assert table_rows(root) == table_rows(reference)
    assert registry(root) == registry(reference)
    hits = ds.dataset(root / "cache_hits" / "week=2026-W47", format="parquet", ignore_prefixes=["_", "."]).to_table()
    earlier = [h for h in hits.to_pylist() if h["matched_week"] == "2026-W46"]
    samples_w46 = ds.dataset(root / "samples" / "week=2026-W46", format="parquet",
                             ignore_prefixes=["_", "."]).to_table().column("query_id").to_pylist()
    assert earlier, "week 2's cache found none of week 1's photos"
    assert {h["matched_query_id"] for h in earlier} <= set(samples_w46)

    # Rerun week 1 after week 2: nothing changes, in either week.
    before, tools_before = table_rows(root), registry(root)
    scheduler.cli("tasks", "clear", DAG, "--start-date", "2026-11-16", "--end-date", "2026-11-17", "--yes")
    assert [r[1] for r in runs(db, "backfill")] in (["queued", "success"], ["running", "success"])
    rerun = wait_for_runs(db, "backfill", 2, timeout=900)
    assert [r[1] for r in rerun] == ["success", "success"]
    assert all(t[1] == 2 for t in task_instances(db, done[0][0]).values())  # every task ran again
    assert all(t[1] == 1 for t in task_instances(db, done[1][0]).values())
    after = table_rows(root)
    assert after.keys() == before.keys()
    changed = sorted(k for k in before if after[k] != before[k])
    assert changed == [], changed  # neither week changed: week 1 started again from the registry as it was before it
    assert registry(root) == tools_before  # and the newest registry state is still week 2's
