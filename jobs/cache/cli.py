"""``intentmine cache``: stage 2 from the command line."""

from __future__ import annotations

from pathlib import Path

from jobs.common.actions import add_week_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cache", help="near-duplicate image cache: which sampled queries reuse an earlier analysis",
        description="Compute a global feature of each sampled query photo, look it up in the image "
                    "index kept across weeks, and publish the cache hits (similarity above the "
                    "threshold) and the updated index.")
    add_stage_arguments(parser)
    parser.set_defaults(func=run)


def add_stage_arguments(parser) -> None:
    """``--root``, ``--week`` and ``--logs``: what the image-reading stages (cache, analyse) share."""
    add_week_arguments(parser, root_help="warehouse root (reads samples)")
    parser.add_argument("--logs", type=Path, default=None,
                        help="logs folder the samples' image_uri is relative to (default: settings logs)")


def run(args) -> int:
    from jobs.cache.stage import run_cache
    from jobs.common.settings import get_settings

    settings = get_settings()
    counts = run_cache(args.logs or settings.logs, args.root, args.week, settings)
    print(f"cache {args.week}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0
