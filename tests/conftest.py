"""Session-wide test settings: offline model hub, loopback Spark, artefacts folder."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# exact figures in tests compare with float32 vectors; tests of the precision guard ask for "auto"
os.environ.setdefault("INTENTMINE_CLUSTER__EMBEDDING_PRECISION", "float32")

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def small_logs(tmp_path_factory) -> Path:
    """One small generated week of logs, shared by every test that only reads it."""
    from jobs.generate.logs import generate_logs

    out = tmp_path_factory.mktemp("logs")
    generate_logs(out, queries=1_500, seed=11, products=240, query_image_pool=1_500, image_size=64)
    return out
