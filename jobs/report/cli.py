"""``intentmine report``: stage 8 from the command line."""

from __future__ import annotations

from jobs.common.actions import add_week_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write the week's self-contained HTML report",
        description="Write one self-contained HTML file for the week's latest run: cluster tree, tools, "
                    "week-over-week change, cache hit rate, stage timings and model cost.")
    add_week_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.report.stage import run_report

    counts = run_report(None, args.root, args.week, get_settings())
    print(f"report: {counts['report']}")
    return 0
