"""Time the tools stage (tools + training data + SFT export) and the report on a week of
1M synthetic signals; print the figures and write the "Tools and report" section of
docs/benchmarks.md. Asserts nothing about time.

    .venv/bin/python benchmarks/tools_bench.py [--signals 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import machine, update_section  # noqa: E402
from jobs.common.settings import Settings  # noqa: E402
from jobs.common.storage import write_table  # noqa: E402

WEEK, RUN = "2026-W47", "bench"
MAINS = [f"main {i}" for i in range(8)]
SUBS = [f"sub {j}" for j in range(6)] + ["other"]
PRODUCTS = 12
DEFAULT_SIGNALS = 1_000_000


def _strings(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(values).cast(pa.string()), "")


def synthesise(root: Path, n_signals: int, seed: int = 7) -> dict:
    """assignments, signals and samples for one week: 3 signals a query on average."""
    rng = np.random.default_rng(seed)
    n_queries = n_signals // 3
    query = np.sort(rng.integers(0, n_queries, n_signals))
    order = np.ones(n_signals, np.int32)
    same = np.r_[False, query[1:] == query[:-1]]
    run_start = np.flatnonzero(~same)
    order = (np.arange(n_signals) - np.repeat(run_start, np.diff(np.r_[run_start, n_signals])) + 1).astype(np.int32)
    kind = rng.random(n_signals)  # 75 % assigned, 15 % auxiliary, 10 % noise
    main = rng.integers(0, len(MAINS), n_signals)
    sub = rng.integers(0, len(SUBS), n_signals)
    aux = np.minimum(rng.zipf(1.6, n_signals) - 1, 399)
    assigned = kind < 0.75
    aux_col = pa.array(np.where(kind < 0.9, aux, -1), pa.int64(), mask=assigned)
    phrase = rng.integers(0, 200_000, n_signals)
    action = _strings("action phrase ", phrase)
    qid = _strings("q", query)
    base = {"query_id": qid, "order": pa.array(order)}
    write_table(root, "assignments", WEEK, RUN, pa.table(base | {
        "action": action,
        "main_category": pa.array(np.array(MAINS, object)[main], mask=~assigned),
        "subcategory": pa.array(np.array(SUBS, object)[sub], mask=~assigned),
        "aux_cluster": aux_col, "main_score": pa.array(rng.random(n_signals, np.float32)),
        "method": pa.array(["paper"] * n_signals), "ontology_version": pa.array(np.ones(n_signals, np.int64)),
        "run_id": pa.array([RUN] * n_signals)}))
    write_table(root, "signals", WEEK, RUN, pa.table(base | {
        "action": action, "info": _strings("info ", phrase % 5_000),
        "reasoning": _strings("results disagree with the query on attribute ", query % 97),
        "backend": pa.array(["rules"] * n_signals), "model": pa.array(["rules"] * n_signals),
        "prompt_name": pa.array(["reason"] * n_signals), "prompt_version": pa.array(np.ones(n_signals, np.int64)),
        "run_id": pa.array([RUN] * n_signals)}))
    write_table(root, "samples", WEEK, RUN, samples(np.unique(query), rng))
    return {"signals": n_signals, "queries": int(len(np.unique(query)))}


def samples(queries: np.ndarray, rng) -> pa.Table:
    n = len(queries)
    stratum = queries % len(MAINS)
    flat = n * PRODUCTS
    offsets = pa.array(np.arange(0, flat + 1, PRODUCTS, dtype=np.int32))
    meta = pa.MapArray.from_arrays(pa.array(np.arange(0, 2 * flat + 1, 2, dtype=np.int32)),
                                   pa.array(["colour", "brand"]).take(pa.array(np.tile([0, 1], flat))),
                                   pa.array(["black", "Blendy"]).take(pa.array(np.tile([0, 1], flat))))
    pid = rng.integers(0, 50_000, flat)
    products = pa.StructArray.from_arrays(
        [pa.array(np.tile(np.arange(1, PRODUCTS + 1, dtype=np.int32), n)), _strings("p", pid),
         pa.array(rng.random(flat, np.float32)), _strings("product title ", pid),
         pa.array(rng.random(flat) * 500), _strings("images/p", pid), meta],
        names=["rank", "product_id", "similarity", "title", "price", "image_uri", "metadata"])
    population = np.array([200_000 + 10_000 * i for i in range(len(MAINS))])
    sampled = np.bincount(stratum, minlength=len(MAINS))
    return pa.table({
        "query_id": _strings("q", queries), "user_id": pa.array(["u"] * n),
        "ts": pa.array(np.full(n, np.datetime64("2026-11-16T12:00:00", "us"))).cast(pa.timestamp("us", "UTC")),
        "image_uri": _strings("images/q", queries), "main_category": pa.array(np.array(MAINS, object)[stratum]),
        "sample_rank": pa.array(np.arange(1, n + 1, dtype=np.int32)),
        "category_population": pa.array(population[stratum]), "category_sampled": pa.array(sampled[stratum]),
        "sample_weight": pa.array(population[stratum] / sampled[stratum]),
        "products": pa.ListArray.from_arrays(offsets, products),
        "top_fields": pa.array([["colour", "brand"]] * n), "run_id": pa.array([RUN] * n)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=DEFAULT_SIGNALS)
    parser.add_argument("--keep", type=Path, default=None, help="keep the warehouse here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="tools-bench-"))
    settings = Settings(run_id=RUN)
    t0 = time.perf_counter()
    sizes = synthesise(root, args.signals)
    t_synth = time.perf_counter() - t0
    from jobs.report.stage import run_report
    from jobs.tools.stage import run_tools

    t0 = time.perf_counter()
    counts = run_tools(None, root, WEEK, settings)
    t_tools = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts_again = run_tools(None, root, WEEK, settings)
    t_rerun = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = run_report(None, root, WEEK, settings)
    t_report = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    jsonl = next(root.glob("exports/sft/*/*/training_samples.jsonl"))
    body = f"""Machine: {machine()}. `benchmarks/tools_bench.py --signals {args.signals}`: one synthetic week of
{sizes['signals']:,} signals from {sizes['queries']:,} sampled queries (12 products each; 75 % assigned to
8 x 7 subcategories, 15 % in Zipf-sized auxiliary clusters, 10 % noise; inputs synthesised in {t_synth:.1f} s).

| step | seconds |
| --- | ---: |
| `tools` stage: read inputs, registry, support and CI, tool list, training samples, SFT JSONL, clusters, publish | {t_tools:.1f} |
| `tools` again (rerun: same ids, indices and version {counts_again['list_version']}) | {t_rerun:.1f} |
| `report` (tree, tools, changes, manifest; one HTML file of {report['bytes'] / 1024:,.0f} KiB) | {t_report:.1f} |

{counts['tools']} tools, {counts['training_samples']:,} training samples, SFT export
{jsonl.stat().st_size / 1024 ** 2:,.0f} MiB (the catalogue once in tools.json, `sft_catalogue` off);
peak resident memory of the process {peak:,.1f} GiB. Load average at the end {os.getloadavg()[0]:.1f}
(other jobs shared the 2 cores; the rerun ran slower than the first run, not investigated)."""
    print(body)
    if args.signals == DEFAULT_SIGNALS:  # smaller trial runs leave docs/benchmarks.md alone
        update_section("Tools and report", body)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
