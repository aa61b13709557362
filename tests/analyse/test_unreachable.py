"""An unreachable model server: one line naming the endpoint, exit 2, finished work kept."""

from __future__ import annotations

import socket

from jobs.analyse.checkpoint import Checkpoint
from jobs.cli import main
from stage_data import samples_from_logs, write_samples


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_names_the_endpoint(tmp_path, small_logs, capsys, monkeypatch):
    samples = samples_from_logs(small_logs, limit=3)
    write_samples(tmp_path, "2026-W47", samples)
    ck = Checkpoint(tmp_path / "_checkpoints" / "analyse" / "week=2026-W47.sqlite")
    ck.put("finished-before", {"status": "ok", "output": {"x": 1}})
    monkeypatch.setenv("INTENTMINE_MODELS__MAX_RETRIES", "1")
    monkeypatch.setenv("INTENTMINE_MODELS__BACKOFF_BASE_S", "0.01")
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code = main(["-q", "analyse", "--root", str(tmp_path), "--week", "2026-W47", "--logs", str(small_logs),
                 "--backend", "vllm", "--vlm-url", url, "--llm-url", url])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert url in err and "unreachable" in err
    assert "finished-before" in Checkpoint(ck.path).keys()
    assert not (tmp_path / "analyses").exists()  # nothing half-published
