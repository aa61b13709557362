"""Throughput and peak memory of ``generate-logs`` at 100k and 1M search events.

Each size runs in a fresh child process so its peak RSS is its own. Prints a table
and rewrites the "Log generator" section of docs/benchmarks.md.

    python benchmarks/generate_bench.py [--sizes 100000 1000000] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from report import machine, update_section

CHILD = """
import json, resource, sys, time
from jobs.generate.logs import generate_logs
t = time.perf_counter()
s = generate_logs(sys.argv[1], queries=int(sys.argv[2]), seed=1)
s["wall"] = time.perf_counter() - t
s["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(s))
"""


def run(size: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", CHILD, out, str(size)], capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    rows = ["| search events | impressions | images | wall s | events/s | impressions/s | peak RSS MB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in args.sizes:
        r = run(size)
        rows.append(f"| {r['search_events']:,} | {r['impressions']:,} | {r['images']:,} | {r['wall']:.1f} | "
                    f"{r['search_events'] / r['wall']:,.0f} | {r['impressions'] / r['wall']:,.0f} | {r['peak_mb']:,.0f} |")
        print(rows[-1], flush=True)
    body = (f"`python benchmarks/generate_bench.py` on {machine()}, "
            f"{time.strftime('%Y-%m-%d')}. Default catalogue (2,400 products), one photo file per upload "
            "(30 % re-uploads, half of them the same file); the wall time includes drawing every photo "
            "(JPEG, one worker process per core) and writing zstd Parquet partitioned by day.\n\n"
            + "\n".join(rows))
    print(body)
    if not args.no_doc:
        update_section("Log generator", body)


if __name__ == "__main__":
    main()
