"""``spark-submit`` entry point for stage 1 (cluster runs; see docs/sample.md).

    spark-submit --master yarn --py-files intentmine.zip jobs/sample/submit.py \\
        --logs hdfs:///logs --root hdfs:///warehouse --week 2026-W47

Same flags as ``intentmine sample``; settings come from ``INTENTMINE_*`` variables.
``get_spark`` reuses the session spark-submit created, so the master and resources
given to spark-submit (or ``INTENTMINE_SPARK__*``) apply unchanged.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import InputError


def main(argv: list[str] | None = None) -> int:
    from core.progress import setup_logging
    from jobs.sample.cli import register

    parser = argparse.ArgumentParser(prog="sample-job")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sample", *(sys.argv[1:] if argv is None else argv)])
    setup_logging()
    try:
        return args.func(args)
    except InputError as exc:
        sys.stderr.write(f"sample job: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
