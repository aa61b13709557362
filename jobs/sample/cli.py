"""``intentmine sample``: stage 1 from the command line."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sample", help="weekly no-click image queries: filter bots and bad images, stratified sample",
        description="Detect the week's no-click image queries, drop bot traffic and low-quality "
                    "images, and publish a stratified sample per main category (Spark).")
    parser.add_argument("--logs", type=Path, required=True, help="raw logs folder (generate-logs layout)")
    parser.add_argument("--root", type=Path, required=True, help="warehouse root for the outputs")
    parser.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47 (UTC)")
    parser.add_argument("--per-category", type=int, default=None, help="queries sampled per main category")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed")
    parser.set_defaults(func=run)


def settings_from(args):
    """Settings from the environment, with the command-line flags on top."""
    from pydantic import ValidationError

    from jobs.common.errors import InputError
    from jobs.common.settings import SampleSettings, get_settings

    settings = get_settings()
    overrides = {k: v for k, v in (("per_category", args.per_category), ("seed", args.seed)) if v is not None}
    try:
        sample = SampleSettings.model_validate(settings.sample.model_dump() | overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg']}") from None
    return settings.model_copy(update={"sample": sample})


def run(args) -> int:
    from jobs.sample.run import format_summary, run_sample

    summary = run_sample(args.logs, args.root, args.week, settings_from(args))
    print(format_summary(summary))
    return 0
