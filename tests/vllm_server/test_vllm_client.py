"""The async client against a real vLLM server: structured output, concurrency, retries, resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.analyse.checkpoint import Checkpoint, request_key
from jobs.analyse.results import NO_FINDING
from jobs.analyse.client import ModelClient, ModelRequest
from prompts.loader import load_prompt
from schemas.llm import LlmReasoning, OntologyProposal, VlmAnalysis
from vllm_server.proxy import FlakyProxy
from vllm_server.workload import requests, run

pytestmark = pytest.mark.slow
WORKLOAD = Path(__file__).with_name("workload.py")


def one(url, settings, request):
    async def go():
        client = ModelClient(url, "tiny", settings)
        try:
            return await client.complete(request), client.stats
        finally:
            await client.close()
    return asyncio.run(go())


@pytest.mark.parametrize("model,prompt,values", [
    (VlmAnalysis, "vlm_analysis", ({}, {"n_products": 2, "products_table": "1. red mug | price 9.90"})),
    (LlmReasoning, "llm_reasoning", ({"expert_rules": "- [r] rule"},
                                     {"vlm_analysis": "{}", "features": "{}", "metadata_table": "1. brand=X"})),
    (OntologyProposal, "ontology_proposal", ({}, {"n_actions": 2, "actions": "refine colour\nsegment price"})),
])
def test_structured_output_is_schema_valid(vllm_url, model_settings, model, prompt, values):
    template = load_prompt(prompt)
    request = ModelRequest(request_key(template.key, "", "tiny", values), template.render(*values), model)
    outcome, stats = one(vllm_url, model_settings, request)
    assert outcome["status"] == "ok", outcome
    model.model_validate(outcome["output"])
    assert outcome["prompt_tokens"] > 0 and outcome["completion_tokens"] > 0
    assert stats.attempts == 1 and stats.retries == 0


def test_concurrency_bound_is_held_at_the_server(vllm_url):
    with FlakyProxy(vllm_url, delay_share=1.0, delay_s=0.2) as proxy:
        outcomes, stats = run(proxy.url, 12, None, concurrency=3)
    assert all(o["status"] == "ok" for o in outcomes)
    assert proxy.peak == 3 and stats.peak_in_flight == 3
    assert proxy.requests == 12


def test_retries_through_failures_and_timeouts(vllm_url, model_settings):
    settings = model_settings.model_copy(update={"timeout_s": 5.0, "max_retries": 8})
    with FlakyProxy(vllm_url, fail_share=0.3, delay_share=0.15, delay_s=8.0, seed=3) as proxy:
        outcomes, stats = run(proxy.url, 16, None, concurrency=4, settings=settings)
    assert all(o["status"] == "ok" for o in outcomes), [o["error"] for o in outcomes if o["status"] != "ok"]
    assert proxy.failures > 0 and proxy.delays > 0
    assert stats.retries >= proxy.failures and stats.attempts == proxy.requests
    assert stats.failed == 0


def test_invalid_answers_are_failed_with_raw_text(vllm_url, model_settings):
    settings = model_settings.model_copy(update={"max_retries": 1})
    with FlakyProxy(vllm_url, corrupt=True) as proxy:
        outcomes, stats = run(proxy.url, 2, None, concurrency=2, settings=settings)
    assert [o["status"] for o in outcomes] == ["failed", "failed"]
    assert outcomes[0]["raw"] == "not json at all" and "invalid answer" in outcomes[0]["error"]
    assert proxy.requests == 4 and stats.failed == 2


def test_resume_after_kill_sends_no_finished_request_again(vllm_url, tmp_path):
    checkpoint = tmp_path / "ck.sqlite"
    n = 16
    with FlakyProxy(vllm_url, delay_share=1.0, delay_s=0.4) as slow:
        child = subprocess.Popen([sys.executable, str(WORKLOAD), slow.url, str(n), str(checkpoint), "2"],
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                                 start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not checkpoint.exists() or len(Checkpoint(checkpoint).keys()) < 4):
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    finished = Checkpoint(checkpoint).keys()
    assert 4 <= len(finished) < n
    with FlakyProxy(vllm_url) as proxy:
        outcomes, stats = run(proxy.url, n, str(checkpoint), concurrency=2)
    assert not set(proxy.keys) & finished  # zero finished requests sent again
    assert stats.resumed == len(finished) and proxy.requests == n - len(finished)
    assert all(o["status"] == "ok" for o in outcomes)
    assert {r.key for r in requests(n)} == Checkpoint(checkpoint).keys()


def test_analyse_with_the_vllm_backend_end_to_end(vllm_url, small_logs, tmp_path, monkeypatch):
    from jobs.cli import main
    from jobs.common.storage import read_table
    from stage_data import samples_from_logs, write_samples

    write_samples(tmp_path, "2026-W47", samples_from_logs(small_logs, limit=4))
    monkeypatch.setenv("INTENTMINE_MODELS__IMAGE_MODE", "none")  # the tiny model reads text only
    monkeypatch.setenv("INTENTMINE_MODELS__MAX_RETRIES", "1")
    args = ["-q", "analyse", "--root", str(tmp_path), "--week", "2026-W47", "--logs", str(small_logs),
            "--backend", "vllm", "--vlm-url", vllm_url, "--vlm-model", "tiny", "--llm-url", vllm_url,
            "--llm-model", "tiny", "--concurrency", "4"]
    assert main(args) == 0
    analyses = read_table(tmp_path, "analyses", "2026-W47").to_pylist()
    assert len(analyses) == 8 and {a["backend"] for a in analyses} == {"vllm"}
    assert {a["model"] for a in analyses} == {"tiny"}
    assert all(a["status"] == "ok" or a["output_json"] is not None for a in analyses)
    signals = read_table(tmp_path, "signals", "2026-W47").to_pylist()
    # The tiny model's answers are random text under the schema: some pass the content policy, some
    # are refused (status failed). Every signal of every accepted reasoning answer is published, in order.
    expected = sorted((a["query_id"], i, s["action"].strip() or "(empty)", s["info"])
                      for a in analyses if a["stage"] == "llm" and a["status"] == "ok"
                      for i, s in enumerate(json.loads(a["output_json"])["signals"], start=1)
                      if s["action"].strip() != NO_FINDING)
    assert sorted((s["query_id"], s["order"], s["action"], s["info"]) for s in signals) == expected
    assert {s["prompt_name"] for s in signals} <= {"llm_reasoning"}
    assert main(args) == 0  # a rerun answers from the checkpoint: nothing is sent again
    manifest = next((tmp_path / "_manifests").rglob("run=*.json")).read_text()
    assert '"vlm_resumed": 4.0' in manifest and '"vlm_attempts": 0.0' in manifest


def test_server_going_away_fails_naming_it_and_keeps_what_finished(vllm_url, small_logs, tmp_path, monkeypatch):
    from jobs.cli import main
    from stage_data import samples_from_logs, write_samples

    write_samples(tmp_path, "2026-W47", samples_from_logs(small_logs, limit=6))
    monkeypatch.setenv("INTENTMINE_MODELS__IMAGE_MODE", "none")
    monkeypatch.setenv("INTENTMINE_MODELS__MAX_RETRIES", "1")
    monkeypatch.setenv("INTENTMINE_MODELS__BACKOFF_BASE_S", "0.01")
    with FlakyProxy(vllm_url, close_after=3) as proxy:
        code = main(["-q", "analyse", "--root", str(tmp_path), "--week", "2026-W47", "--logs", str(small_logs),
                     "--backend", "vllm", "--vlm-url", proxy.url, "--vlm-model", "tiny", "--llm-url", proxy.url,
                     "--llm-model", "tiny", "--concurrency", "1"])
        finished = len(proxy.forwarded)
    assert code == 2
    checkpoint = Checkpoint(tmp_path / "_checkpoints" / "analyse" / "week=2026-W47.sqlite")
    assert len(checkpoint.keys()) == finished == 3
    assert not (tmp_path / "analyses").exists()


def test_ontology_proposal_from_actions(vllm_url, model_settings):
    from jobs.ontology.llm import propose_ontology
    from jobs.common.settings import Settings

    settings = Settings(models=model_settings.model_copy(update={"llm_url": vllm_url, "llm_model": "tiny"}))
    ontology = propose_ontology(["refine colour", "segment price range", "refine colour", "ask for a photo"],
                                settings, version=2)
    assert ontology["version"] == 2
    OntologyProposal.model_validate({"categories": ontology["categories"]})
    assert all(c["keywords"] for c in ontology["categories"])


def test_vision_model_reads_data_uri_photos_end_to_end(vision_url, vllm_url, small_logs, tmp_path, monkeypatch):
    """VLM = the tiny Qwen2-VL reading the query and product photos as data: URIs."""
    from jobs.cli import main
    from jobs.common.storage import read_table
    from stage_data import samples_from_logs, write_samples

    write_samples(tmp_path, "2026-W47", samples_from_logs(small_logs, limit=2))
    monkeypatch.setenv("INTENTMINE_MODELS__IMAGE_MODE", "data")
    monkeypatch.setenv("INTENTMINE_MODELS__IMAGE_MAX_SIDE", "112")
    assert main(["-q", "analyse", "--root", str(tmp_path), "--week", "2026-W47", "--logs", str(small_logs),
                 "--backend", "vllm", "--vlm-url", vision_url, "--vlm-model", "tinyvl", "--llm-url", vllm_url,
                 "--llm-model", "tiny", "--concurrency", "2"]) == 0
    vlm = [a for a in read_table(tmp_path, "analyses", "2026-W47").to_pylist() if a["stage"] == "vlm"]
    assert [a["status"] for a in vlm] == ["ok", "ok"] and {a["model"] for a in vlm} == {"tinyvl"}
    assert all(a["prompt_tokens"] > 13 * 16 for a in vlm)  # 13 photos of 16 tokens each went in
