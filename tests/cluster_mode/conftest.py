"""A real Spark standalone cluster (master + one worker from the installed pyspark), once per session.

Sized for a 2-core machine: one worker with 2 cores and 1 GB. Its executors run a
separate Python (``.venv-executor``, built here on first use and kept, git-ignored)
that has the third-party dependencies only, not the project: the code reaches them
through the zip ``get_spark`` ships.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXECUTOR_VENV = REPO / ".venv-executor"
SPARK_HOME = Path(__import__("pyspark").__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def executor_python() -> Path:
    """An interpreter with the executors' dependencies (same versions as here) and no project."""
    from jobs.common.spark import executor_requirements

    pins = sorted(f"{name}=={version(name)}" for name in executor_requirements)
    stamp, python = EXECUTOR_VENV / "REQUIREMENTS", EXECUTOR_VENV / "bin" / "python"
    if not stamp.exists() or stamp.read_text() != "\n".join(pins):
        subprocess.run([sys._base_executable, "-m", "venv", "--clear", str(EXECUTOR_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True, timeout=900)
        stamp.write_text("\n".join(pins))
    probe = subprocess.run([str(python), "-c", "import jobs"], capture_output=True, cwd="/", env={})
    assert probe.returncode != 0, "the executor Python must not have the project"
    return python


def _wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"spark daemon did not log {text!r}: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def standalone(tmp_path_factory, executor_python):
    """(master URL, worker work dir) of a running cluster; both daemons stopped at the end."""
    base = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_DAEMON_MEMORY": "256m"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        master_log = base / "master.log"
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(free_port())], stdout=master_log.open("w"), stderr=subprocess.STDOUT,
            env=env, start_new_session=True))
        _wait_for(master_log, "I have been elected leader", procs[0], 90)
        work, worker_log = base / "work", base / "worker.log"
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "2",
             "--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(work)],
            stdout=worker_log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True))
        _wait_for(worker_log, "Successfully registered with master", procs[1], 90)
        yield url, work
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
