"""``intentmine replay``: the offline replay from the command line."""

from __future__ import annotations

from pathlib import Path

from jobs.common.actions import add_week_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "replay", help="apply each query's tools offline; top-1/top-4 relevance before and after",
        description="Run every sampled query's predicted tools (in order, with their Info) on its retrieved "
                    "products and the catalogue, publish the replay and replay_tools tables, and judge "
                    "top-1/top-4 relevance against the generator's ground truth when the logs have it.")
    add_week_arguments(parser)
    parser.add_argument("--logs", type=Path, default=None,
                        help="logs folder: its products/ catalogue and ground_truth/ (optional)")
    parser.set_defaults(func=run)


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def run(args) -> int:
    from jobs.common.settings import get_settings
    from jobs.replay.stage import run_replay

    c = run_replay(args.logs, args.root, args.week, get_settings())
    print(f"week {args.week}: {c['queries']:,} queries replayed ({c['changed']:,} changed in the top-4, "
          f"{c['asks_shopper']:,} ask the shopper), {c['tools']} tools, catalogue from {c['catalogue']}")
    print(f"  top-1 {_pct(c['baseline_top1'])} -> {_pct(c['replay_top1'])}, top-4 {_pct(c['baseline_top4'])} -> "
          f"{_pct(c['replay_top4'])} ({c['judged']:,} queries with ground truth)")
    return 0
