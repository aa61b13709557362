"""Analyse on Spark partitions against the real vLLM server: each query is asked once per model.

A Spark sort after ``mapInPandas`` ran the analyst twice; the proxy counts what the
server received.
"""

from __future__ import annotations

from vllm_server.proxy import FlakyProxy


def test_requests_received_equal_queries_analysed(vllm_url, small_logs, tmp_path, monkeypatch):
    from jobs.cli import main
    from jobs.common.storage import read_table
    from stage_data import samples_from_logs, write_samples

    write_samples(tmp_path, "2026-W47", samples_from_logs(small_logs, limit=6))
    monkeypatch.setenv("INTENTMINE_MODELS__IMAGE_MODE", "none")
    monkeypatch.setenv("INTENTMINE_MODELS__MAX_RETRIES", "0")
    monkeypatch.setenv("INTENTMINE_MODELS__PARTITIONS", "2")
    monkeypatch.setenv("INTENTMINE_SPARK__MASTER", "local[2]")
    with FlakyProxy(vllm_url) as proxy:
        code = main(["-q", "analyse", "--root", str(tmp_path), "--week", "2026-W47", "--logs", str(small_logs),
                     "--backend", "vllm", "--vlm-url", proxy.url, "--vlm-model", "tiny", "--llm-url", proxy.url,
                     "--llm-model", "tiny", "--concurrency", "2"])
    assert code == 0
    analyses = read_table(tmp_path, "analyses", "2026-W47").to_pylist()
    assert len(analyses) == 12  # 6 queries, a VLM and an LLM row each
    assert proxy.requests == len(analyses) == len(set(proxy.keys))  # each request sent exactly once
