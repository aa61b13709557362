"""``intentmine sample``: stage 1 from the command line."""

from __future__ import annotations

from pathlib import Path

from jobs.common.actions import add_week_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sample", help="weekly no-click image queries: filter bots and bad images, stratified sample",
        description="Detect the week's no-click image queries, drop bot traffic and low-quality "
                    "images, and publish a stratified sample per main category (Spark).")
    parser.add_argument("--logs", type=Path, required=True, help="raw logs folder (generate-logs layout)")
    add_week_arguments(parser, root_help="warehouse root for the outputs", week_help="ISO week, e.g. 2026-W47 (UTC)")
    parser.add_argument("--per-category", type=int, default=None, help="queries sampled per main category")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed")
    parser.set_defaults(func=run)


def run(args) -> int:
    from jobs.common.settings import get_settings, overlay
    from jobs.sample.stage import format_summary, run_sample

    settings = overlay(get_settings(), {"sample.per_category": args.per_category, "sample.seed": args.seed})
    summary = run_sample(args.logs, args.root, args.week, settings)
    print(format_summary(summary))
    return 0
