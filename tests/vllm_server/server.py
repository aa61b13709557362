"""Start and stop a vLLM OpenAI-compatible server on a free loopback port (tests, benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message holds its last log lines."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(python: Path, model: Path, log_path: Path, timeout_s: float = 300, name: str = "tiny",
                 extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """The flags ENVIRONMENT.md found to work for a tiny random model on the CPU."""
    port = free_port()
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
           "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "4096", "--dtype", "float32", "--enforce-eager",
           "--kv-cache-memory-bytes", str(64 * 2**20), "--structured-outputs-config",
           '{"backend":"guidance","disable_any_whitespace":true}', *extra]
    env = {**os.environ, "VLLM_CPU_OMP_THREADS_BIND": "nobind", "HF_HUB_OFFLINE": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(Path(log_path).read_text().splitlines()[-15:])
            raise ServerFailed(f"vLLM server exited with {proc.returncode}; last log lines:\n{tail}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_server(proc)
    raise ServerFailed(f"vLLM server not ready after {timeout_s:.0f}s (log: {log_path})")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (it spawns an engine process), SIGKILL if it hangs."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass
