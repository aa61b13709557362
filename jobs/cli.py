"""The ``intentmine`` command: one subcommand per stage, plus ``demo`` and ``run``.

Each stage package registers its own subcommands (``register(subparsers)`` in its
``cli`` module); this file only assembles them and turns errors into one line.
Heavy libraries (Spark, torch) are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from core.errors import InputError
from core.progress import setup_logging

# Modules whose register(subparsers) adds subcommands, in the order --help lists them.
COMMAND_MODULES = (
    "jobs.demo",
    "jobs.pipeline",
    "jobs.generate.cli",
    "jobs.sample.cli",
    "jobs.cache.cli",
    "jobs.analyse.cli",
    "jobs.cluster.cli",
    "jobs.ontology.cli",
    "jobs.tools.cli",
    "jobs.report.cli",
    "jobs.review.cli",
)

log = logging.getLogger("intentmine")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exits 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="intentmine", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING if args.quiet else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        sys.stderr.write(f"intentmine {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"intentmine {args.command}: interrupted; nothing was published\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
