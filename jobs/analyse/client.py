"""An asynchronous client for vLLM's OpenAI-compatible server, built to scale and resume.

- bounded concurrency (a semaphore per client, i.e. per server and process);
- structured output: ``response_format`` with the pydantic model's JSON schema, and
  the answer validated against the same model;
- timeouts; retries with exponential back-off and full jitter on timeouts, connection
  errors, 429 and 5xx, and on answers that do not validate;
- every finished request checkpointed the moment it finishes, keyed by
  :func:`~jobs.analyse.checkpoint.request_key`, so a rerun sends only what is missing;
- an answer still invalid after the retries is a ``failed`` outcome with its raw text;
- a server that stays unreachable raises :class:`EndpointUnreachable` naming it, and
  what finished before stays checkpointed;
- accounting: requests, attempts, retries, failures, tokens, latencies, peak in flight.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from dataclasses import dataclass, field

import httpx
from pydantic import BaseModel, ValidationError

from jobs.analyse.checkpoint import Checkpoint
from core.errors import InputError


class _Retryable(Exception):
    """A timeout, a connection error, 429 or 5xx: worth another attempt after a back-off."""

    def __init__(self, message: str, connection: bool = False):
        super().__init__(message)
        self.connection = connection


class _Refused(Exception):
    """Another 4xx: the request itself is wrong, retrying cannot help."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.body = body


class EndpointUnreachable(InputError):
    """The server could not be reached after the retries; the message names the endpoint."""


@dataclass
class ModelRequest:
    key: str
    messages: list[dict]
    response_model: type[BaseModel]


@dataclass
class Accounting:
    requests: int = 0
    resumed: int = 0
    attempts: int = 0
    retries: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    def metrics(self, prefix: str) -> dict[str, float]:
        lat = sorted(self.latencies) or [0.0]
        return {f"{prefix}_{k}": float(v) for k, v in (
            ("requests", self.requests), ("resumed", self.resumed), ("attempts", self.attempts),
            ("retries", self.retries), ("failed", self.failed), ("prompt_tokens", self.prompt_tokens),
            ("completion_tokens", self.completion_tokens), ("peak_in_flight", self.peak_in_flight),
            ("latency_p50_s", lat[len(lat) // 2]), ("latency_p95_s", lat[int(len(lat) * 0.95)]))}


class ModelClient:
    """One server and model; :meth:`complete` returns an outcome dict (see checkpoint FIELDS)."""

    def __init__(self, base_url: str, model: str, settings, checkpoint: Checkpoint | None = None,
                 concurrency: int | None = None, api_key: str = "EMPTY"):
        self.base_url, self.model, self.s = base_url, model, settings
        self.limit = concurrency or settings.concurrency
        self.checkpoint = checkpoint
        self.stats = Accounting()
        self._semaphore = asyncio.Semaphore(self.limit)
        # Plain httpx on the OpenAI-compatible route: about half the client CPU per request of
        # the openai SDK (1.9 against 3.5 ms, benchmarks/analyse_bench.py), one dependency fewer.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", timeout=settings.timeout_s,
            headers={"authorization": f"Bearer {api_key}"},
            limits=httpx.Limits(max_connections=self.limit, max_keepalive_connections=self.limit))

    async def close(self) -> None:
        await self._http.aclose()

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.s.backoff_max_s, self.s.backoff_base_s * 2 ** attempt))

    async def complete(self, request: ModelRequest) -> dict:
        self.stats.requests += 1
        if self.checkpoint is not None:
            done = self.checkpoint.get(request.key)
            if done is not None:
                self.stats.resumed += 1
                return done
        async with self._semaphore:
            outcome = await self._with_retries(request)
        if self.checkpoint is not None:
            self.checkpoint.put(request.key, outcome)
        self.stats.failed += outcome["status"] == "failed"
        return outcome

    async def _with_retries(self, request: ModelRequest) -> dict:
        last_error, raw = "", ""
        for attempt in range(self.s.max_retries + 1):
            if attempt:
                self.stats.retries += 1
                await asyncio.sleep(self.backoff(attempt - 1))
            try:
                answer = await self._send(request)
            except _Retryable as exc:
                last_error = str(exc)[:300]
                if exc.connection and attempt == self.s.max_retries:
                    raise EndpointUnreachable(
                        f"model server {self.base_url} (model {self.model}) is unreachable: {last_error}") from None
                continue
            except _Refused as exc:  # 4xx other than 429: retrying cannot help
                return {"status": "failed", "output": None, "raw": exc.body[:4000], "error": str(exc),
                        "attempts": attempt + 1}
            raw = answer.pop("raw")
            try:
                output = request.response_model.model_validate_json(raw).model_dump()
            except ValidationError as exc:
                last_error = f"invalid answer: {str(exc).splitlines()[0]}"
                continue
            return {"status": "ok", "output": output, "raw": None, "error": None, "attempts": attempt + 1, **answer}
        return {"status": "failed", "output": None, "raw": raw, "error": last_error,
                "attempts": self.s.max_retries + 1}

    async def _send(self, request: ModelRequest) -> dict:
        self.stats.attempts += 1
        self.stats.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
        began = time.perf_counter()
        try:
            reply = await self._http.post("chat/completions", json=chat_body(self.model, request, self.s),
                                          headers={"x-intentmine-key": request.key})
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout after {self.s.timeout_s}s ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # refused, reset, closed midway
            raise _Retryable(f"connection error: {type(exc).__name__}: {exc}", connection=True) from None
        finally:
            self.stats.in_flight -= 1
        latency = time.perf_counter() - began
        self.stats.latencies.append(latency)
        if reply.status_code == 429 or reply.status_code >= 500:
            raise _Retryable(f"HTTP {reply.status_code}: {reply.text[:200]}")
        if reply.status_code >= 400:
            raise _Refused(reply.status_code, reply.text)
        try:
            data = reply.json()
            content = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):  # not a chat completion: an invalid answer
            return {"raw": reply.text[:4000], "latency_s": latency, "prompt_tokens": None, "completion_tokens": None}
        usage = data.get("usage") or {}
        self.stats.prompt_tokens += usage.get("prompt_tokens") or 0
        self.stats.completion_tokens += usage.get("completion_tokens") or 0
        return {"raw": content, "latency_s": latency, "prompt_tokens": usage.get("prompt_tokens"),
                "completion_tokens": usage.get("completion_tokens")}


def chat_body(model: str, request: ModelRequest, settings) -> dict:
    """The ``/chat/completions`` body of a request: structured output from its response model."""
    return {"model": model, "messages": request.messages, "max_tokens": settings.max_tokens,
            "temperature": settings.temperature, "response_format": _response_format(request.response_model)}


@functools.lru_cache(maxsize=32)
def _response_format(model: type[BaseModel]) -> dict:
    """``response_format`` for a pydantic model, built once per model."""
    schema = {"name": model.__name__, "schema": model.model_json_schema(), "strict": True}
    return {"type": "json_schema", "json_schema": schema}


async def run_all(client: ModelClient, requests: list[ModelRequest]) -> list[dict]:
    """Complete every request (bounded by the client); the first unreachable-server error wins."""
    tasks = [asyncio.ensure_future(client.complete(r)) for r in requests]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
