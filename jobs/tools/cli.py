"""``intentmine tools``: stage 7 from the command line."""

from __future__ import annotations

from jobs.common.actions import add_week_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tools", help="publish the week's tool list, training samples and SFT export",
        description="Turn the week's clusters into tools with stable ids and indices, apply pending review "
                    "decisions, and publish tools, training_samples and a chat-format JSONL.")
    add_week_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.tools.stage import run_tools

    counts = run_tools(None, args.root, args.week, get_settings())
    print(f"week {args.week}: tool list v{counts['list_version']}, {counts['tools']} tools "
          f"({counts['new_tools']} new, {counts['retired']} retired), {counts['decisions_applied']} "
          f"review decisions applied, {counts['training_samples']:,} training samples")
    return 0
