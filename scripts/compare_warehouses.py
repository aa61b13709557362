"""Compare two warehouses table by table: same rows, same values (the refactoring check).

    python scripts/compare_warehouses.py WAREHOUSE_A WAREHOUSE_B [--week 2026-W47]

Either warehouse may be a local path, ``file://`` or ``s3://`` (read through jobs.common.fs).

For every table and week present in either warehouse, the latest complete run of each
is read and its rows compared as multisets (order does not matter; every column and
value does, floats exactly). The registry is compared too: the tool registry, the
published tool lists and the ontology series (by content, whatever the file names).
Prints one line per difference and exits 1 if there is any, 0 when all agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.common import fs  # noqa: E402
from jobs.common.storage import latest_run, read_table  # noqa: E402
from jobs.registry import ontology as series  # noqa: E402
from jobs.registry import tool_lists  # noqa: E402

IGNORED = {"reports"}  # HTML carries the stage timings of its own run


def tables(root: Path | str) -> dict[str, set[str]]:
    """table -> weeks with a complete run."""
    found = {}
    for name in fs.names(root):
        if name.startswith("_") or name in IGNORED or not fs.is_dir(fs.join(root, name)):
            continue
        weeks = {w.removeprefix("week=") for w in fs.names(fs.join(root, name))
                 if w.startswith("week=") and latest_run(root, name, w.removeprefix("week="))}
        if weeks:
            found[name] = weeks
    return found


def rows(root: Path, table: str, week: str) -> Counter:
    data = read_table(root, table, week)
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in data.to_pylist())


def compare_tables(a: Path, b: Path, week: str | None) -> list[str]:
    problems = []
    left, right = tables(a), tables(b)
    for table in sorted(set(left) | set(right)):
        weeks = (left.get(table, set()) | right.get(table, set())) if week is None else {week}
        for w in sorted(weeks):
            have_a, have_b = w in left.get(table, set()), w in right.get(table, set())
            if not (have_a and have_b):
                if have_a or have_b:
                    problems.append(f"{table} week {w}: only in {'A' if have_a else 'B'}")
                continue
            ra, rb = rows(a, table, w), rows(b, table, w)
            if ra != rb:
                only_a, only_b = ra - rb, rb - ra
                sample = next(iter(only_a or only_b))
                problems.append(f"{table} week {w}: {sum(only_a.values())} row(s) only in A, "
                                f"{sum(only_b.values())} only in B; e.g. {sample[:300]}")
    return problems


def compare_registry(a: Path, b: Path) -> list[str]:
    problems = []
    ta, tb = (fs.read_text(fs.join(p, "_registry", "tools.json")) for p in (a, b))
    if (ta is None) != (tb is None) or (ta is not None and json.loads(ta) != json.loads(tb)):
        problems.append("tool registry (_registry/tools.json) differs")
    la, lb = ([n for n in fs.names(tool_lists.folder(p)) if n.startswith("v") and n.endswith(".parquet")]
              for p in (a, b))
    if la != lb:
        problems.append(f"tool lists differ: {la} vs {lb}")
    for name in sorted(set(la) & set(lb)):
        if fs.read_parquet(fs.join(tool_lists.folder(a), name)).to_pylist() != \
                fs.read_parquet(fs.join(tool_lists.folder(b), name)).to_pylist():
            problems.append(f"tool list {name} differs")
    oa = [(v, yaml.safe_load(fs.read_text(p))) for v, p in series.versions(a)]
    ob = [(v, yaml.safe_load(fs.read_text(p))) for v, p in series.versions(b)]
    if oa != ob:
        problems.append(f"ontology series differ: versions {[v for v, _ in oa]} vs {[v for v, _ in ob]}"
                        + (" (same versions, other content)" if [v for v, _ in oa] == [v for v, _ in ob] else ""))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=fs.text)
    parser.add_argument("b", type=fs.text)
    parser.add_argument("--week", default=None, help="only this ISO week (default: every week)")
    args = parser.parse_args(argv)
    problems = compare_tables(args.a, args.b, args.week) + compare_registry(args.a, args.b)
    for line in problems:
        print(line)
    counted = tables(args.a)
    print(f"{'differ' if problems else 'same'}: {sum(len(w) for w in counted.values())} table-weeks "
          f"of {len(counted)} tables compared, registry compared; {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
