"""``intentmine demo``: generate a week of logs and run every stage on embedded defaults."""

from __future__ import annotations

import argparse
import datetime as dt
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
    week = iso_week(dt.date.fromisoformat(g.start))
    results = run_week(logs, root, week, settings)
    print(f"week {week}: every stage ran in {time.perf_counter() - began:.1f}s (logs included)")
    print(format_results(results))
    tools = results.get("tools", {})
    if "tools" in tools:
        print(f"tools: {tools['tools']} proposed for review, {tools.get('signals_without_tool_share', 0):.1%} "
              "of the signals without a tool")
    print(f"warehouse: {root.resolve()}")
    return 0
