"""The weekly DAG: it imports cleanly, and `airflow dags test` runs every stage on generated logs."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TABLES = ("no_click_queries", "filtered_queries", "rejected_rows", "samples", "cache_hits", "analyses",
          "signals", "assignments", "clusters", "tools", "training_samples")
WEEK = "2026-W47"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow")
    env = dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"), AIRFLOW__CORE__PARALLELISM="4",
               AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"), PYSPARK_PYTHON=sys.executable,
               SPARK_LOCAL_IP="127.0.0.1", HF_HUB_OFFLINE="1")
    airflow = str(Path(sys.executable).parent / "airflow")
    for cmd in (["db", "migrate"], ["pools", "set", "intentmine_models", "2", "vLLM servers"]):
        subprocess.run([airflow, *cmd], env=env, check=True, capture_output=True, timeout=300)
    env["AIRFLOW_BIN"] = airflow
    return env


def test_dag_imports_with_its_contract(airflow_env, monkeypatch):
    for key in ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__LOAD_EXAMPLES"):
        monkeypatch.setenv(key, airflow_env[key])
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["intentmine_weekly"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "check_logs", "sample", "cache", "analyse", "cluster", "tools", "replay", "report"]
    assert {"intentmine", "weekly"} <= set(dag.tags) and dag.catchup is False
    assert "0 3 * * 1" in repr(dag.timetable)
    assert dag.max_active_runs == 1
    assert all(t.execution_timeout and t.retries >= 1 and t.retry_exponential_backoff for t in dag.tasks)
    assert dag.get_task("analyse").retries >= 3  # a model outage outlasts the client's own retries
    assert dag.get_task("analyse").pool == "intentmine_models"
    # Stages that read earlier weeks run after the week before; the cache also after its analysis.
    assert {t.task_id for t in dag.tasks if t.depends_on_past} == {"cache", "cluster", "tools"}
    assert {t.task_id for t in dag.tasks if t.wait_for_downstream} == {"cache"}
    outlets = {a.name for t in dag.tasks for a in t.outlets}
    assert {f"intentmine.{name}" for name in TABLES} <= outlets
    # Nothing about where a run works is fixed at parse time: no path in an asset, no default path.
    assert all(a.uri.startswith("intentmine://") for t in dag.tasks for a in t.outlets)
    assert {dag.params[k] for k in ("logs", "root", "week")} == {""}


def test_a_run_resolves_its_paths_and_refuses_relative_or_missing_ones(tmp_path, monkeypatch):
    import datetime as dt

    from core.errors import InputError
    from jobs.schedule import plan

    monday = dt.datetime(2026, 11, 23, 3, tzinfo=dt.timezone.utc)
    (tmp_path / "logs").mkdir()
    monkeypatch.setenv("INTENTMINE_ROOT", str(tmp_path / "env-root"))
    p = plan({"logs": str(tmp_path / "logs"), "per_category": 7}, monday)
    assert (p.logs, p.root, p.week, p.settings.sample.per_category) == (
        tmp_path / "logs", tmp_path / "env-root", WEEK, 7)
    for params, message in [({"logs": "data/logs"}, "logs 'data/logs': a relative path"),
                            ({"logs": str(tmp_path / "nope")}, f"logs {tmp_path / 'nope'}: no such folder"),
                            ({"logs": str(tmp_path / "logs"), "root": str(tmp_path / "a" / "b")},
                             "its parent folder"),
                            ({"logs": str(tmp_path / "logs"), "week": "2026-47"}, "expected an ISO week")]:
        with pytest.raises(InputError, match=message):
            plan(params, monday)
    monkeypatch.delenv("INTENTMINE_ROOT")
    with pytest.raises(InputError, match="root 'data/warehouse': a relative path"):
        plan({"logs": str(tmp_path / "logs")}, monday)


def test_bad_input_fails_the_task_without_retries_and_an_outage_is_retried(small_logs, tmp_path, monkeypatch):
    import datetime as dt
    import socket

    from airflow.sdk.exceptions import AirflowFailException

    from jobs.analyse.client import EndpointUnreachable
    from jobs.schedule import run_task
    from tests.stage_data import samples_from_logs, write_samples

    monday = dt.datetime(2026, 11, 23, 3, tzinfo=dt.timezone.utc)
    with pytest.raises(AirflowFailException, match=f"intentmine validate: logs {tmp_path / 'x'}: no such folder"):
        run_task("validate", {"logs": str(tmp_path / "x"), "root": str(tmp_path / "w")}, monday)
    # A model server that is down: the error stays retryable (not AirflowFailException).
    root = tmp_path / "warehouse"
    write_samples(root, WEEK, samples_from_logs(small_logs, limit=4))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    monkeypatch.setenv("INTENTMINE_MODELS__MAX_RETRIES", "0")
    params = {"logs": str(small_logs), "root": str(root), "backend": "vllm", "vlm_url": closed, "llm_url": closed}
    run_task("cache", params, monday)
    with pytest.raises(EndpointUnreachable, match="unreachable"):
        run_task("analyse", params, monday)


def _snapshot(root: Path) -> dict[str, str]:
    """Content hash of the latest run of every table (row order and file names ignored)."""
    from jobs.common.storage import read_table

    out = {}
    for name in TABLES:
        table = read_table(root, name, WEEK)  # the latest committed run
        rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())
        out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def test_dags_test_runs_the_week_and_a_rerun_changes_nothing(airflow_env, tmp_path):
    from jobs.common.storage import latest_run
    from jobs.generate.logs import generate_logs

    logs, root = tmp_path / "logs", tmp_path / "warehouse"
    generate_logs(logs, queries=800, seed=3, products=240, query_image_pool=800, image_size=64)
    conf = json.dumps({"logs": str(logs), "root": str(root), "per_category": 30})
    cmd = [airflow_env["AIRFLOW_BIN"], "dags", "test", "intentmine_weekly", "2026-11-23", "-c", conf]
    snapshots = []
    for _ in range(2):
        out = subprocess.run(cmd, env=airflow_env, capture_output=True, text=True, timeout=1200)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        for name in TABLES:
            assert latest_run(root, name, WEEK), name  # committed through the week's pointer
        manifests = list((root / "_manifests" / f"week={WEEK}").glob("run=*.json"))
        assert len(manifests) == 1
        stages = {s["stage"] for s in json.loads(manifests[0].read_text())["stages"]}
        assert {"sample", "analyse", "cluster", "tools"} <= stages
        snapshots.append(_snapshot(root))
        folders = [p.name for p in (root / "samples" / f"week={WEEK}").glob("run=*")]
        run_id = manifests[0].stem.removeprefix("run=")
        assert len(folders) == 1 and folders[0].startswith(f"run={run_id}")  # a rerun replaced, no duplicate
        assert latest_run(root, "samples", WEEK) == run_id
    assert snapshots[0] == snapshots[1]
