"""A whole generated week at scale, every stage on the rules backend, each against its floor.

For each size (search events) the script generates a week, sets ``sample.per_category``
so that about the target number of queries reaches analysis, and runs every stage in
its own child process (so each stage's peak memory is its own: the Python process and
any JVM below it, sampled every 0.1 s). Floors, measured in the same run:

* sample: the no-click rule alone, one DuckDB query on the same logs (2 threads);
* analyse: reading the samples and decoding the distinct product photos of the analysed
  queries alone (what the rules analyst reads: the query photos' features and ink come from
  the cache stage), on as many processes as the analyst;
* cluster: embedding the week's distinct actions alone, no cache (the chosen precision),
  and in float32 on the same texts (the precision speed-up, same run).

``--labels`` also clusters HWU64 and BANKING77 with float32 and with the chosen precision
and reports the share of rows whose labels are unchanged. Prints the table and writes
"## Week at scale" first in docs/benchmarks.md (unless ``--no-doc``).

    python benchmarks/week_bench.py [--sizes 1000000:100000 5000000:500000] [--labels] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from report import machine, run_measured, update_section_first  # noqa: E402

WEEK, START = "2026-W47", "2026-11-16"
STAGES = ("sample", "cache", "analyse", "cluster", "tools", "report")
CATEGORIES = 8  # main categories of the generator's catalogue
EXPECTED_HIT = 0.063  # share of sampled queries the cache answers (measured on the 1 M week, default re-upload share)


def settings_for(per_category: int):
    from jobs.common.settings import get_settings

    s = get_settings()
    s.sample.per_category = per_category
    s.models.backend = "rules"
    s.spark.master = "local[2]"
    return s


def worker(args) -> dict:
    """One measured step in this (child) process; prints JSON."""
    began = time.perf_counter()
    logs, root = Path(args.logs), Path(args.root)
    if args.step == "generate":
        from jobs.generate.logs import generate_logs

        out = generate_logs(logs, start=START, queries=args.events, seed=1)
    elif args.step in STAGES:
        from jobs.pipeline import stage_function

        out = stage_function(args.step)(logs, root, WEEK, settings_for(args.per_category))
    elif args.step == "floor-sample":
        from sample_bench import run_duckdb

        out = run_duckdb(str(logs))
    elif args.step == "floor-analyse":
        out = decode_alone(logs, root)
    elif args.step == "floor-cluster":
        out = embed_alone(root)
    elif args.step == "labels":
        out = label_agreement()
    else:
        raise SystemExit(f"unknown step {args.step}")
    out = {k: v for k, v in out.items() if isinstance(v, (int, float, str))}
    return {**out, "wall": time.perf_counter() - began}


def decode_alone(logs: Path, root: Path) -> dict:
    """What the analyst reads: the samples (the child's wall time) and the analysed queries' distinct
    product photos, read and decoded (``seconds``). The samples are read as the stage reads them:
    column by column, the cache hits split off (no Python rows)."""
    from core.parallel import map_chunks
    from jobs.analyse.features import WeekReferences
    from jobs.analyse.stage import cache_hits, split_hits
    from jobs.common.settings import get_settings
    from jobs.common.storage import read_table

    side = get_settings().models.feature_max_side
    todo, _ = split_hits(read_table(root, "samples", WEEK), cache_hits(root, WEEK))
    references = WeekReferences()
    references.add_table(todo)
    uris = [p["image_uri"] for p in references.product_photos()]
    began = time.perf_counter()
    map_chunks(_decode_chunk, uris, 256, 0, _decode_start, (str(logs), side))  # as many processes as the analyst
    return {"seconds": time.perf_counter() - began, "photos": len(uris), "queries": todo.num_rows}


_FLOOR: dict = {}


def _decode_start(logs: str, side: int) -> None:
    _FLOOR.update(logs=Path(logs), side=side)


def _decode_chunk(uris: list[str]) -> list[int]:
    import numpy as np

    from jobs.common.images import load_rgb

    return [np.asarray(load_rgb(_FLOOR["logs"], uri, _FLOOR["side"], "floor")).size for uri in uris]


def embed_alone(root: Path) -> dict:
    """Embedding the week's distinct actions alone: chosen precision, then float32 on the same texts."""
    from clustering.embeddings import Encoder, load_model
    from jobs.common.storage import read_table

    texts = sorted(set(read_table(root, "signals", WEEK, columns=["action"]).column("action").to_pylist()))
    load_model()
    out = {"texts": len(texts)}
    for name in ("auto", "float32"):
        encoder = Encoder(precision=name)
        encoder.resolve()  # model load and the probe check outside the timing
        began = time.perf_counter()
        encoder.encode(texts)
        out[f"{name}_seconds"] = time.perf_counter() - began
        out[f"{name}_precision"] = encoder.precision
    return out


def label_agreement() -> dict:
    """Share of rows whose (main, sub, auxiliary) labels are the same with float32 and the chosen precision."""
    from cluster_quality import datasets

    from clustering.embeddings import Encoder
    from clustering.params import BEST
    from clustering.pipeline import ActionClusterer
    from jobs.ontology.propose import propose_from_data

    out = {}
    for name, (texts, _) in datasets().items():
        float32 = Encoder(precision="float32")
        chosen = Encoder(precision="auto")
        ontology = propose_from_data(texts, float32)  # one ontology: only the embeddings differ
        frames = {}
        for label, encoder in (("float32", float32), ("chosen", chosen)):
            began = time.perf_counter()
            frames[label] = ActionClusterer(encoder, BEST).run(texts, ontology)
            out[f"{name} {label} seconds"] = time.perf_counter() - began
        a, b = frames["float32"], frames["chosen"]
        same = ((a["main_category"].fillna("-") == b["main_category"].fillna("-"))
                & (a["subcategory"].fillna("-") == b["subcategory"].fillna("-")))
        out[f"{name} rows"] = len(texts)
        out[f"{name} main+sub unchanged"] = float(same.mean())
        out[f"{name} aux unchanged"] = float((a["aux_cluster"].fillna(-2) == b["aux_cluster"].fillna(-2)).mean())
        out[f"{name} precision"] = chosen.precision
    return out


def measured(step: str, logs: Path, root: Path, per_category: int = 0, events: int = 0) -> dict:
    """Run ``step`` in a child; its JSON plus the peak RSS of its process tree."""
    cmd = [sys.executable, __file__, "--step", step, "--logs", str(logs), "--root", str(root),
           "--per-category", str(per_category), "--events", str(events)]
    code, out, peak = run_measured(cmd, {**os.environ, "PYTHONPATH": str(REPO)})
    if code:
        raise SystemExit(f"step {step} failed ({code})")
    result = json.loads(out.strip().splitlines()[-1]) | {"peak_mb": peak / 2**20}
    print(f"  {step}: {result['wall']:.1f}s, peak {result['peak_mb']:,.0f} MB", flush=True)
    return result


def run_size(events: int, target: int, work: Path, logs: Path | None) -> dict:
    per_category = math.ceil(target / (1 - EXPECTED_HIT) / CATEGORIES)
    root = work / f"warehouse-{events}"
    shutil.rmtree(root, ignore_errors=True)
    r = {"events": events, "target": target, "per_category": per_category}
    if logs is None:
        logs = work / f"logs-{events}"
        r["generate"] = measured("generate", logs, root, events=events)
    for stage in STAGES:
        r[stage] = measured(stage, logs, root, per_category)
    r["floor-sample"] = measured("floor-sample", logs, root)
    r["floor-analyse"] = measured("floor-analyse", logs, root)
    r["floor-cluster"] = measured("floor-cluster", logs, root)
    r["load"] = os.getloadavg()[0]
    return r


def stage_rows(r: dict) -> list[str]:
    """One markdown row per stage: seconds, rows/s, peak, floor and stage / floor."""
    ev, s, c, a, cl = r["sample"]["events"], r["sample"], r["cache"], r["analyse"], r["cluster"]
    fa, fc, fs = r["floor-analyse"], r["floor-cluster"], r["floor-sample"]
    embed = fc["auto_seconds"]
    rows = {
        "sample": (s["wall"], ev, "events", f"DuckDB no-click rule {fs['wall']:.1f} s", s["wall"] / fs["wall"]),
        "cache": (c["wall"], c["queries"], "queries", "", None),
        "analyse": (a["wall"], a["analysed"], "queries", f"read its samples, decode {fa['photos']:,} product photos "
                    f"{fa['wall']:.1f} s (decoding {fa['seconds']:.1f} s)", a["wall"] / fa["wall"]),
        "cluster": (cl["wall"], cl["rows"], "rows", f"embed {fc['texts']:,} distinct ({fc['auto_precision']}) "
                    f"{embed:.1f} s", cl["wall"] / embed),
        "tools": (r["tools"]["wall"], r["tools"].get("training_samples", 0), "samples", "", None),
        "report": (r["report"]["wall"], 0, "", "", None),
    }
    out = []
    for name, (sec, n, unit, floor, ratio) in rows.items():
        rate = f"{n / sec:,.0f} {unit}/s" if n else ""
        out.append(f"| {name} | {sec:.1f} | {rate} | {r[name]['peak_mb']:,.0f} | {floor} | "
                   f"{f'{ratio:.1f}x' if ratio else ''} |")
    return out


def slowest(r: dict) -> str:
    return max(STAGES, key=lambda s: r[s]["wall"])


def body(results: list[dict], labels: dict | None) -> str:
    lines = [f"`python benchmarks/week_bench.py` on {machine()}, {time.strftime('%Y-%m-%d')}: a generated week "
             "(default catalogue, 30 % re-uploads), every stage on the rules backend, each in its own process "
             "(seconds include the child's start: imports, and for sample a Spark session); peak = resident "
             "memory of the stage's process tree (Python and JVM). Floors measured in the same run, each in its "
             "own process like the stage (sample and analyse floors: the child's wall time; cluster: the "
             "embedding call alone, model loaded)."]
    for r in results:
        total = sum(r[s]["wall"] for s in STAGES)
        peak = max(r[s]["peak_mb"] for s in STAGES)
        fc = r["floor-cluster"]
        lines += ["", f"### {r['events']:,} search events → {r['analyse']['analysed']:,} queries analysed",
                  "", f"per_category {r['per_category']:,}; samples {r['analyse']['samples']:,}, cache hits "
                  f"{r['analyse']['cached']:,}; generation {r['generate']['wall']:.0f} s "
                  f"({r['generate'].get('images', 0):,} photos) not counted; 1-minute load average at the end "
                  f"{r['load']:.1f} on 2 cores.", "",
                  "| stage | seconds | rows/s | peak MB | floor (same run) | stage / floor |",
                  "| --- | ---: | ---: | ---: | --- | ---: |", *stage_rows(r),
                  f"| **week** | **{total:.0f}** | {r['sample']['events'] / total:,.0f} events/s | {peak:,.0f} | | |",
                  "", f"Embedding the {fc['texts']:,} distinct actions: float32 {fc['float32_seconds']:.1f} s, "
                  f"{fc['auto_precision']} {fc['auto_seconds']:.1f} s "
                  f"({fc['float32_seconds'] / fc['auto_seconds']:.2f}x).",
                  "", f"**The floor of the week is now `{slowest(r)}`**: "
                  f"{r[slowest(r)]['wall'] / total:.0%} of the stages' time."]
    if len(results) > 1:
        a, b = results[0], results[-1]
        ta, tb = (sum(r[s]["wall"] for s in STAGES) for r in (a, b))
        lines += ["", f"Growth {a['events']:,} → {b['events']:,} events ({b['events'] / a['events']:.0f}x): "
                  f"week {tb / ta:.2f}x."]
    if labels:
        lines += ["", "### Precision and clustering labels (HWU64, BANKING77)", "",
                  "| dataset | rows | precision | float32 s | chosen s | main+sub unchanged | aux unchanged |",
                  "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
        for name in ("HWU64", "BANKING77"):
            lines.append(f"| {name} | {labels[f'{name} rows']:,} | {labels[f'{name} precision']} | "
                         f"{labels[f'{name} float32 seconds']:.1f} | {labels[f'{name} chosen seconds']:.1f} | "
                         f"{labels[f'{name} main+sub unchanged']:.2%} | {labels[f'{name} aux unchanged']:.2%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1000000:100000"],
                        help="events:queries-to-analyse pairs (default 1000000:100000)")
    parser.add_argument("--logs", type=Path, help="logs already generated for the (single) size")
    parser.add_argument("--generate-json", type=Path, help="their generator summary (JSON with 'wall')")
    parser.add_argument("--work", type=Path, help="working folder (default a temporary one)")
    parser.add_argument("--labels", action="store_true", help="also compare labels on HWU64 and BANKING77")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--per-category", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(worker(args)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="week-bench-"))
    results = []
    for size in args.sizes:
        events, target = (int(x) for x in size.split(":"))
        print(f"week of {events:,} events, ~{target:,} queries to analyse", flush=True)
        r = run_size(events, target, work, args.logs)
        if args.logs is not None:
            r["generate"] = json.loads(args.generate_json.read_text()) if args.generate_json else {"wall": 0.0}
        results.append(r)
        (work / f"week-{events}.json").write_text(json.dumps(r, indent=1))
    labels = measured("labels", work, work) if args.labels else None
    text = body(results, labels)
    print(text)
    if not args.no_doc:
        update_section_first("Week at scale", text)


if __name__ == "__main__":
    main()
