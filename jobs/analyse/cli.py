"""``intentmine analyse``: stages 3-4 from the command line."""

from __future__ import annotations

from jobs.common.actions import add_stage_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyse", help="analyse sampled queries (VLM + reasoning) and publish Action -> Info signals",
        description="Analyse the week's sampled no-click queries that the near-duplicate cache did "
                    "not cover, with the deterministic rules analyst or vLLM servers, and publish "
                    "the analyses and signals tables.")
    add_stage_arguments(parser)
    parser.add_argument("--backend", choices=["rules", "vllm"], default=None, help="analysis backend")
    for flag, what in (("--vlm-url", "VLM server base URL (…/v1)"), ("--vlm-model", "VLM served model name"),
                       ("--llm-url", "LLM server base URL (…/v1)"), ("--llm-model", "LLM served model name")):
        parser.add_argument(flag, default=None, help=what)
    parser.add_argument("--concurrency", type=int, default=None, help="requests in flight per server")
    parser.set_defaults(func=run)


def settings_from(args):
    """Settings from the environment with the command-line flags on top (validated)."""
    from jobs.common.settings import get_settings, overlay

    return overlay(get_settings(), {f"models.{k}": getattr(args, k) for k in
                                    ("backend", "vlm_url", "vlm_model", "llm_url", "llm_model", "concurrency")})


def run(args) -> int:
    from jobs.analyse.stage import run_analyse

    settings = settings_from(args)
    counts = run_analyse(args.logs or settings.logs, args.root, args.week, settings)
    print(f"analyse {args.week} ({settings.models.backend}): " +
          ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0
