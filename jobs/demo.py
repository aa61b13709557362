"""``intentmine demo`` and ``intentmine run``: the whole pipeline on embedded defaults, or on given logs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jobs.common.settings import get_settings
from jobs.common.storage import iso_week


def register(subparsers) -> None:
    from jobs.generate.cli import positive

    g = get_settings().generate
    demo = subparsers.add_parser("demo", help="generate logs and run every stage on embedded defaults")
    demo.add_argument("--root", type=Path, default=Path("intentmine-demo"),
                      help="folder for the logs and the warehouse (default ./intentmine-demo)")
    demo.add_argument("--queries", type=positive, default=g.queries, help=f"search events (default {g.queries})")
    demo.add_argument("--seed", type=int, default=g.seed, help=f"random seed (default {g.seed})")
    demo.set_defaults(func=run_demo)

    run = subparsers.add_parser("run", help="run the weekly stages in order on existing logs")
    run.add_argument("--logs", type=Path, required=True, help="folder written by generate-logs (or real logs)")
    run.add_argument("--root", type=Path, required=True, help="warehouse root for the versioned tables")
    run.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    run.add_argument("--backend", choices=["rules", "vllm"], default=None, help="analysis backend")
    run.add_argument("--from", dest="first", default=None, help="first stage to run")
    run.add_argument("--to", dest="last", default=None, help="last stage to run")
    run.set_defaults(func=run_stages)


def run_stages(args: argparse.Namespace) -> int:
    from jobs.pipeline import format_results, run_week

    settings = _settings(args)
    began = time.perf_counter()
    results = run_week(args.logs, args.root, args.week, settings, args.first, args.last)
    print(f"week {args.week}: {len(results)} stage(s) in {time.perf_counter() - began:.1f}s")
    print(format_results(results))
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from jobs.generate.cli import format_summary
    from jobs.generate.logs import generate_logs
    from jobs.pipeline import format_results, run_week

    settings = get_settings()
    g = settings.generate
    logs, root = args.root / "logs", args.root / "warehouse"
    began = time.perf_counter()
    summary = generate_logs(logs, start=g.start, days=g.days, queries=args.queries, seed=args.seed,
                            products=g.products, query_image_pool=g.query_image_pool, image_size=g.image_size)
    print(format_summary(logs, summary))
    week = iso_week(__import__("datetime").date.fromisoformat(g.start))
    results = run_week(logs, root, week, settings)
    print(f"week {week}: every stage ran in {time.perf_counter() - began:.1f}s (logs included)")
    print(format_results(results))
    print(f"warehouse: {root.resolve()}")
    return 0


def _settings(args):
    settings = get_settings()
    if getattr(args, "backend", None):
        settings.models.backend = args.backend
    return settings
