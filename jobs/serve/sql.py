"""SQL over the warehouse: DuckDB views that read the latest complete run of every table.

A glob over ``<root>/<table>/**`` double counts a week with two runs and sees runs that
never committed, and the week's commit pointer is a JSON file SQL cannot join, so
:func:`connect` resolves it here: one view per table over exactly the files of each
week's latest committed run (with ``week`` and ``run`` columns from the path). ``review_decisions`` is an append-only log with one run per
decision, so its view reads every complete run. ``tool_lists`` reads every published
list version (``list_version`` is a column of each).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from jobs.common import fs
from jobs.common.storage import commits, committed_files, week_dir, weeks
from jobs.registry.reviews import TABLE as REVIEWS
from jobs.registry.tool_lists import folder as lists_folder
from schemas.tables import LOG_TABLES, TABLES


def latest_files(root: Path, table: str) -> list[str]:
    """The Parquet files of each week's latest committed run of ``table`` (every run for the review log)."""
    files = []
    for week in weeks(root, table):
        if table != REVIEWS:
            files += committed_files(root, table, week)
            continue
        for folder in commits(root, week)["tables"].get(table, {}).get("runs", {}).values():
            run = fs.join(week_dir(root, table, week), folder)
            files += [str(fs.join(run, n)) for n in fs.names(run) if n.endswith(".parquet")]
    return sorted(files)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(root: Path | str, database: str = ":memory:"):
    """A DuckDB connection with one view per published table of ``root``; the view names."""
    import duckdb

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--root {root}: no such folder")
    con = duckdb.connect(database)
    for table in (t for t in TABLES if t not in LOG_TABLES and t != "run_manifests"):
        files = latest_files(root, table)
        if files:
            listed = ", ".join(_quote(f) for f in files)
            con.execute(f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM read_parquet([{listed}], '
                        f"hive_partitioning = true, union_by_name = true)")
    versions = sorted(lists_folder(root).glob("v*.parquet")) if lists_folder(root).is_dir() else []
    if versions:
        listed = ", ".join(_quote(str(f)) for f in versions)
        con.execute(f"CREATE OR REPLACE VIEW tool_lists AS SELECT * FROM read_parquet([{listed}], union_by_name = true)")
    return con


def views(con) -> list[str]:
    return sorted(r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall())


def run_sql(root: Path, query: str, csv: bool = False) -> str:
    """The result of one query as an aligned text table (or CSV)."""
    import duckdb

    con = connect(root)
    try:
        result = con.sql(query)
    except duckdb.Error as exc:
        raise InputError(f"sql: {str(exc).splitlines()[0]} (views: {', '.join(views(con))})") from None
    if result is None:
        return ""
    frame = result.df()
    return frame.to_csv(index=False) if csv else frame.to_string(index=False, max_colwidth=60)
