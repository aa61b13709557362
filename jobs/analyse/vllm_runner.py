"""The ``vllm`` backend: each query's photo and products to the VLM, then its answer,
features and metadata to the reasoning LLM, through :class:`ModelClient`.

Queries flow through a bounded pool of workers (twice the concurrency), so both
servers stay busy and memory does not grow with the week: a query's images are
encoded only when a worker takes it. Prompts put static text first (system message)
and the query last; the share of prompt tokens in the shared prefix is reported.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jobs.analyse.checkpoint import Checkpoint, request_key
from jobs.analyse.client import ModelClient, ModelRequest
from jobs.analyse.expert_rules import load_rules
from jobs.analyse.features import reference_prices
from jobs.common.images import data_uri, image_policy, load_rgb
from jobs.analyse.results import QueryResult, StageOutput
from jobs.analyse.rules_runner import FeatureExtractor
from core.progress import Progress
from jobs.common.storage import checkpoint_path
from prompts.loader import load_prompt, shared_prefix_share
from schemas.llm import LlmReasoning, VlmAnalysis


def one_line(text: object) -> str:
    """A logged string on one line: a title cannot start a fake row of the table."""
    return " ".join(str(text).split())


def products_table(sample: dict) -> str:
    return "\n".join(f"{p['rank']}. {one_line(p['title'])} | price {p['price']:.2f} | similarity {p['similarity']:.2f}"
                     for p in sample["products"])


def metadata_table(sample: dict) -> str:
    fields = sample.get("top_fields") or []
    return "\n".join(f"{p['rank']}. " + "; ".join(f"{f}={one_line(p['metadata'][f])}" for f in fields
                                                 if f in p["metadata"])
                     for p in sample["products"])


class Analyst:
    """Builds the two requests of a query and turns the answers into a :class:`QueryResult`."""

    def __init__(self, logs: Path, root: Path, week: str, settings, references: dict[str, float]):
        self.logs, self.m = logs, settings.models
        self.images = image_policy(logs, settings)
        rules = load_rules(self.m.rules_file or None)
        self.features = FeatureExtractor(self.images, rules, self.m.feature_max_side, references)
        self.vlm_prompt, self.llm_prompt = load_prompt("vlm_analysis"), load_prompt("llm_reasoning")
        self.static = {"expert_rules": rules.prompt_text()}
        checkpoint = Checkpoint(checkpoint_path(root, "analyse", week))
        self.vlm = ModelClient(self.m.vlm_url, self.m.vlm_model, self.m, checkpoint)
        self.llm = ModelClient(self.m.llm_url, self.m.llm_model, self.m, checkpoint)
        self.llm_messages: list[list[dict]] = []

    def _image_part(self, uri: str, owner: str) -> dict | None:
        if self.m.image_mode == "none":
            return None
        if self.m.image_mode == "url":
            return {"type": "image_url", "image_url": {"url": self.m.image_url_base.rstrip("/") + "/" + uri}}
        img = load_rgb(self.images, uri, self.m.image_max_side, owner)
        return {"type": "image_url", "image_url": {"url": data_uri(img, self.m.image_max_side)}}

    def vlm_request(self, sample: dict) -> ModelRequest:
        owner = f"query {sample['query_id']}"
        text = self.vlm_prompt.render_user(n_products=len(sample["products"]), products_table=products_table(sample))
        uris = [sample["image_uri"]] + [p["image_uri"] for p in sample["products"]]
        parts = [self._image_part(u, owner) for u in uris]
        content = [p for p in parts if p] + [{"type": "text", "text": text}]
        messages = [{"role": "system", "content": self.vlm_prompt.render_system()},
                    {"role": "user", "content": content if len(content) > 1 else text}]
        key = request_key(self.vlm_prompt.key, self.vlm_prompt.digest(), self.m.vlm_model,
                          [self.m.image_mode, self.m.image_max_side, uris, text])
        return ModelRequest(key, messages, VlmAnalysis)

    def llm_request(self, sample: dict, vlm_output: dict) -> ModelRequest:
        features = self.features(sample)
        per_query = {"vlm_analysis": json.dumps(vlm_output, ensure_ascii=False),
                     "features": json.dumps(features, ensure_ascii=False, sort_keys=True),
                     "metadata_table": metadata_table(sample)}
        messages = self.llm_prompt.render(self.static, per_query)
        if len(self.llm_messages) < 200:
            self.llm_messages.append(messages)
        key = request_key(self.llm_prompt.key, self.llm_prompt.digest(), self.m.llm_model,
                          [self.static, per_query])
        return ModelRequest(key, messages, LlmReasoning)

    def output(self, outcome: dict, client: ModelClient, prompt) -> StageOutput:
        return StageOutput(status=outcome["status"], output=outcome["output"], raw=outcome.get("raw") or "",
                           error=outcome.get("error"), model=client.model, backend="vllm",
                           prompt_name=prompt.name, prompt_version=prompt.version,
                           prompt_tokens=outcome.get("prompt_tokens"),
                           completion_tokens=outcome.get("completion_tokens"), latency_s=outcome.get("latency_s"))

    async def analyse(self, sample: dict) -> QueryResult:
        vlm = self.output(await self.vlm.complete(self.vlm_request(sample)), self.vlm, self.vlm_prompt)
        if vlm.status != "ok":
            llm = StageOutput(status="failed", error="skipped: the VLM answer failed", model=self.llm.model,
                              backend="vllm", prompt_name=self.llm_prompt.name,
                              prompt_version=self.llm_prompt.version)
        else:
            llm = self.output(await self.llm.complete(self.llm_request(sample, vlm.output)), self.llm,
                              self.llm_prompt)
        return QueryResult(sample["query_id"], sample["main_category"], vlm, llm)


async def _pool(analyst: Analyst, samples: list[dict], workers: int) -> list[QueryResult]:
    queue: asyncio.Queue = asyncio.Queue()
    for s in samples:
        queue.put_nowait(s)
    results: list[QueryResult] = []
    progress = Progress("analyse (vllm)", total=len(samples), unit="queries")

    async def work():
        while not queue.empty():
            results.append(await analyst.analyse(queue.get_nowait()))
            progress.update()

    tasks = [asyncio.ensure_future(work()) for _ in range(max(1, min(workers, len(samples))))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await analyst.vlm.close()
        await analyst.llm.close()
    progress.close()
    return results


def analyse_vllm(samples: list[dict], logs: Path, root: Path, week: str, settings,
                 references: dict[str, float] | None = None) -> tuple[list[QueryResult], dict]:
    """Analyse ``samples`` on the vLLM servers; return the results and the run's accounting.

    ``references``: usual prices per subcategory (measured on ``samples`` when None).
    """
    analyst = Analyst(logs, root, week, settings, reference_prices(samples) if references is None else references)
    results = asyncio.run(_pool(analyst, samples, 2 * settings.models.concurrency))
    metrics = {**analyst.vlm.stats.metrics("vlm"), **analyst.llm.stats.metrics("llm"),
               "prompt_prefix_share": shared_prefix_share(analyst.llm_messages)}
    return results, metrics
