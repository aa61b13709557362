"""A deterministic batch of short real requests (the reasoning-compression prompt), runnable
in this process or as a child process that a test kills midway.

Usage as a script: workload.py URL N CHECKPOINT CONCURRENCY
"""

from __future__ import annotations

import asyncio
import sys

from jobs.analyse.checkpoint import Checkpoint, request_key
from jobs.analyse.client import ModelClient, ModelRequest, run_all
from jobs.common.settings import ModelSettings
from prompts.loader import load_prompt
from schemas.llm import CompressedReasoning


def requests(n: int, model: str = "tiny", start: int = 0) -> list[ModelRequest]:
    template = load_prompt("reasoning_compression")
    out = []
    for i in range(start, start + n):
        values = {"reasoning": f"Trace {i}: the results are red while the photo is black, so refine by colour."}
        key = request_key(template.key, template.digest(), model, values)
        out.append(ModelRequest(key, template.render({}, values), CompressedReasoning))
    return out


def run(url: str, n: int, checkpoint: str | None, concurrency: int, settings: ModelSettings | None = None,
        start: int = 0):
    settings = settings or ModelSettings(max_tokens=512, timeout_s=60, max_retries=4, backoff_base_s=0.05,
                                         backoff_max_s=0.5)

    async def go():
        client = ModelClient(url, "tiny", settings, Checkpoint(checkpoint) if checkpoint else None,
                             concurrency=concurrency)
        try:
            return await run_all(client, requests(n, start=start)), client.stats
        finally:
            await client.close()

    return asyncio.run(go())


if __name__ == "__main__":
    url, n, checkpoint, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    run(url, n, checkpoint, concurrency)
