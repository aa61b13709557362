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
    "jobs.replay.cli",
    "jobs.report.cli",
    "jobs.review.cli",
    "jobs.serve.cli",
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


# Commands that only read the warehouse: a read-only --root is fine for them.
READ_ONLY = {("review", "list"), ("serve", None), ("replay", None), ("ontology", None)}


def _reads_only(args) -> bool:
    return (args.command, getattr(args, "review_action", None)) in READ_ONLY or (args.command, None) in READ_ONLY


def _setting_error(exc) -> str:
    """A pydantic ValidationError as one line naming the setting (no documentation URL)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or exc.title
    return f"setting {where}: {first['msg']} (environment INTENTMINE_{where.upper().replace('.', '__')})"


def _os_error(exc: OSError) -> str:
    """An OS error as one line naming the path (disk full, permission, missing folder...)."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename if exc.filename is not None else "?"
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{what}: {where}"


def main(argv: list[str] | None = None) -> int:
    """Parse, check ``--root`` early, run; every failure a user can cause is one line, exit 2."""
    from pydantic import ValidationError

    from jobs.pipeline import check_root

    try:
        parser = build_parser()  # some commands take defaults from the settings
    except ValidationError as exc:
        sys.stderr.write(f"intentmine: error: {_setting_error(exc)}\n")
        return 2
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING if args.quiet else logging.INFO)
    fail = f"intentmine {args.command}: error:"
    try:
        if getattr(args, "root", None) is not None:
            check_root(args.root, writable=not _reads_only(args))
        return int(args.func(args) or 0)
    except InputError as exc:
        sys.stderr.write(f"{fail} {exc}\n")
        return 2
    except ValidationError as exc:  # a setting from the environment or a flag
        sys.stderr.write(f"{fail} {_setting_error(exc)}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"{fail} {_os_error(exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"intentmine {args.command}: interrupted; nothing was published\n")
        return 130
    except Exception as exc:  # a Spark job's failure arrives as a Java exception in Python's clothes
        if (line := _spark_disk_full(exc, args)) is None:
            raise
        sys.stderr.write(f"{fail} {line}\n")
        return 2


def _spark_disk_full(exc: Exception, args) -> str | None:
    """One line for a Spark write that ran out of space (ENOSPC inside the JVM), else None."""
    if not type(exc).__module__.startswith(("py4j", "pyspark")) or "No space left on device" not in str(exc):
        return None
    return f"No space left on device: {getattr(args, 'root', None) or '?'} (a Spark write); nothing was published"


if __name__ == "__main__":
    sys.exit(main())
