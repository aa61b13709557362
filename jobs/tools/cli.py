"""``intentmine tools`` and ``intentmine report``: stages 7 and 8 from the command line."""

from __future__ import annotations

from pathlib import Path


COMMANDS = (
    ("tools", "publish the week's tool list, training samples and SFT export",
     "Turn the week's clusters into tools with stable ids and indices, apply pending review "
     "decisions, and publish tools, training_samples and a chat-format JSONL.", "run_tools_command"),
    ("report", "write the week's self-contained HTML report",
     "Write one self-contained HTML file for the week's latest run: cluster tree, tools, "
     "week-over-week change, cache hit rate, stage timings and model cost.", "run_report_command"),
)


def register(subparsers) -> None:
    for name, short, long, func in COMMANDS:
        parser = subparsers.add_parser(name, help=short, description=long)
        parser.add_argument("--root", type=Path, required=True, help="warehouse root")
        parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
        parser.set_defaults(func=globals()[func])


def run_tools_command(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.tools.job import run_tools

    counts = run_tools(None, args.root, args.week, get_settings())
    print(f"week {args.week}: tool list v{counts['list_version']}, {counts['tools']} tools "
          f"({counts['new_tools']} new, {counts['retired']} retired), {counts['decisions_applied']} "
          f"review decisions applied, {counts['training_samples']:,} training samples")
    return 0


def run_report_command(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.report.job import run_report

    counts = run_report(None, args.root, args.week, get_settings())
    print(f"report: {counts['report']}")
    return 0
