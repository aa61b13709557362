"""Sample and analyse on a real standalone cluster whose executors lack the project = local mode.

Both entry points are used: ``spark-submit jobs/sample/submit.py`` (the docs' recipe)
and ``intentmine run`` with ``INTENTMINE_SPARK__MASTER``. Each runs in its own process
(one SparkContext per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from cluster_mode.conftest import REPO, SPARK_HOME
from jobs.common.storage import latest_run

WEEK = "2026-W47"
CLI = [sys.executable, "-c", "import sys; from jobs.cli import main; sys.exit(main())"]


def _env(**settings) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1",
           "INTENTMINE_MODELS__PARTITIONS": "2", "INTENTMINE_SAMPLE__PER_CATEGORY": "40"}
    env.update({f"INTENTMINE_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(cmd: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    print(f"{' '.join(cmd[3:6]) if cmd[0] == sys.executable else cmd[0]}: {time.perf_counter() - began:.1f} s")
    return done


@pytest.mark.slow
def test_sample_and_analyse_on_the_cluster_match_local_mode(standalone, executor_python, small_logs, tmp_path):
    url, work = standalone
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    args = ["--logs", str(small_logs), "--week", WEEK]
    done = _run(CLI + ["-q", "run", *args, "--root", str(local), "--to", "analyse"],
                _env(spark__master="local[2]", spark__driver_memory="1g"))
    assert done.returncode == 0, done.stderr[-3000:]

    conf = ["--conf", f"spark.pyspark.python={executor_python}", "--conf", f"spark.pyspark.driver.python={sys.executable}"]
    done = _run([str(SPARK_HOME / "bin" / "spark-submit"), "--master", url, "--executor-memory", "1g",
                 "--driver-memory", "1g", *conf, str(REPO / "jobs" / "sample" / "submit.py"), *args,
                 "--root", str(cluster)], _env())
    assert done.returncode == 0, done.stderr[-3000:]
    on_cluster = _env(spark__master=url, spark__executor_memory="1g", spark__driver_memory="1g",
                      spark__extra_conf=json.dumps({"spark.pyspark.python": str(executor_python)}))
    done = _run(CLI + ["-q", "run", *args, "--root", str(cluster), "--from", "cache", "--to", "analyse"], on_cluster)
    assert done.returncode == 0, done.stderr[-3000:]

    apps = sorted(work.glob("app-*"))
    assert len(apps) >= 2  # spark-submit's sample and run's analyse both got executors on the worker
    stderr = "".join(p.read_text(errors="replace") for p in work.glob("app-*/*/stderr"))
    assert "intentmine-" in stderr and ".zip" in stderr  # the executors fetched the shipped project zip
    compared = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_warehouses.py"), str(local),
                               str(cluster)], capture_output=True, text=True, env=_env())
    assert compared.returncode == 0, compared.stdout + compared.stderr
    for table in ("no_click_queries", "filtered_queries", "rejected_rows", "samples", "cache_hits",
                  "analyses", "signals"):
        assert latest_run(cluster, table, WEEK) == latest_run(local, table, WEEK) is not None, table


@pytest.mark.slow
def test_no_executor_within_the_wait_is_one_line(standalone, executor_python, small_logs, tmp_path):
    url, _ = standalone
    env = _env(spark__master=url, spark__executor_memory="4g", spark__executor_wait_s="8",
               spark__extra_conf=json.dumps({"spark.pyspark.python": str(executor_python)}))
    done = _run(CLI + ["-q", "sample", "--logs", str(small_logs), "--week", WEEK, "--root", str(tmp_path / "w")],
                env, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "no executor within 8 s" in last and "spark.executor.memory=4g" in last
    assert "Traceback" not in done.stderr
