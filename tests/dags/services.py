"""A real Airflow deployment for tests: Debian's Postgres, api-server, scheduler and dag-processor.

Postgres runs from ``/usr/lib/postgresql/<version>/bin`` (the Debian package ``postgresql``,
installed by ``make sysdeps``) on a free port with its data folder in a fresh temporary
folder; as root it runs as the ``postgres`` user (``initdb`` refuses root). Airflow runs
with LocalExecutor; its task processes reach the api-server's execution API.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("Postgres is not installed: `make sysdeps` installs it (Debian package postgresql)")
    return found[-1].parent


def wait_until(check, timeout: float, what: str, every: float = 1.0):
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def stop_tree(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the children first (a scheduler's children may ignore their parent), then the parent."""
    if proc.poll() is not None:
        return
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    _, alive = psutil.wait_procs(family, timeout=grace)
    for p in alive:
        p.kill()


class Postgres:
    """A throw-away Postgres cluster: ``start()``, ``url``, ``stop()`` (which deletes its data)."""

    def __init__(self, database: str = "airflow", user: str = "airflow"):
        self.bin, self.database, self.user = postgres_bin(), database, user
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="intentmine-pg-"))
        self.data = self.folder / "data"
        self.run_as = "postgres" if os.geteuid() == 0 else None
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        subprocess.run([str(self.bin / cmd[0]), *cmd[1:]], check=True, capture_output=True, timeout=timeout,
                       user=self.run_as, group=self.run_as, cwd=self.folder)

    def start(self) -> "Postgres":
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database)
        return self

    def connect(self):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database)
        conn.autocommit = True
        return conn

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Airflow:
    """``airflow db migrate`` on Postgres, then api-server, scheduler and dag-processor (LocalExecutor)."""

    def __init__(self, home: Path, postgres: Postgres, extra_env: dict[str, str]):
        self.home, self.postgres = home, postgres
        self.api_port = free_port()
        self.env = dict(
            os.environ, **extra_env,
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres.url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.api_port}/execution/",
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
            PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
            HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
        )
        self.procs: dict[str, subprocess.Popen] = {}

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        out = subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        return out

    def start(self) -> "Airflow":
        self.cli("db", "migrate")
        self.cli("pools", "set", "intentmine_models", "2", "vLLM servers")
        commands = {"api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
                    "scheduler": ["scheduler"], "dag-processor": ["dag-processor"]}
        for name, args in commands.items():
            log = open(self.home / f"{name}.log", "wb")
            self.procs[name] = subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.healthy, 180, "the api-server's health endpoint")
        return self

    def healthy(self) -> bool:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited ({proc.returncode}); see {self.home / (name + '.log')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        for name in ("scheduler", "dag-processor", "api-server"):
            if name in self.procs:
                stop_tree(self.procs[name])
