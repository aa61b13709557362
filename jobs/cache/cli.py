"""``intentmine cache``: stage 2 from the command line."""

from __future__ import annotations

from jobs.common.actions import add_stage_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cache", help="near-duplicate image cache: which sampled queries reuse an earlier analysis",
        description="Compute a global feature of each sampled query photo, look it up in the image "
                    "index kept across weeks, and publish the cache hits (similarity above the "
                    "threshold) and the updated index.")
    add_stage_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from jobs.cache.stage import run_cache
    from jobs.common.settings import get_settings

    settings = get_settings()
    counts = run_cache(args.logs or settings.logs, args.root, args.week, settings)
    print(f"cache {args.week}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0
