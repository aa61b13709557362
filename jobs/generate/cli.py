"""``intentmine generate-logs``: write a week (or more) of synthetic visual-search logs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from jobs.common.settings import get_settings

log = logging.getLogger("intentmine")


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def register(subparsers) -> None:
    g = get_settings().generate
    p = subparsers.add_parser("generate-logs", help="write synthetic search logs (events, impressions, "
                              "clicks, products, images, ground truth)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the logs into")
    p.add_argument("--start", default=g.start, help=f"first UTC day, YYYY-MM-DD (default {g.start})")
    p.add_argument("--days", type=positive, default=g.days, help=f"number of days (default {g.days})")
    p.add_argument("--queries", type=positive, default=g.queries, help=f"search events (default {g.queries})")
    p.add_argument("--seed", type=int, default=g.seed, help=f"random seed (default {g.seed})")
    p.set_defaults(func=run)


def run(args) -> int:
    from jobs.generate.logs import generate_logs

    g = get_settings().generate
    summary = generate_logs(args.out, start=args.start, days=args.days, queries=args.queries,
                            seed=args.seed, products=g.products, query_image_pool=g.query_image_pool,
                            image_size=g.image_size)
    print(format_summary(args.out, summary))
    return 0


def format_summary(out: Path, s: dict) -> str:
    """A few readable lines about what was written."""
    return "\n".join([
        f"logs written to {out}/ in {s['seconds']}s",
        f"  search_events {s['search_events']:,}  impressions {s['impressions']:,}  clicks {s['clicks']:,}"
        f"  products {s['products']:,}  images {s['images']:,}",
        f"  bots {s['bot_share']:.1%}  text queries {s['text_share']:.1%}  no-click (image) {s['no_click_share']:.1%}"
        f"  near-duplicates {s['near_duplicate_share']:.1%}  defects {s['defect_share']:.1%}"
        f"  scenarios {s['scenario_share']:.1%}",
    ])
