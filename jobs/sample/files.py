"""File-level checks of the raw logs, before any heavy work: the one place that decides
whether a log *file* is usable. Row-level decisions (a null id, an ``inf`` similarity,
invalid UTF-8) are the sample stage's quarantine (``jobs/sample/logs.py``), never here.

Reads only Parquet footers (schemas and row counts), through ``pyarrow.fs`` so a local
folder and an object-store URI are checked alike. A bad file is one :class:`InputError`
naming the file and, for a schema fault, the column: a file that is not Parquet, a
required column that is missing, a column whose type cannot hold the model's (``ts`` as
a string). A day partition of the week with no file is not an error: it is reported
(``empty_partitions``), logged as a warning and counted in the summary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InputError
from schemas.arrow import arrow_schema
from schemas.tables import LOG_TABLES, TABLES

log = logging.getLogger("intentmine")
PARTITIONED = ("search_events", "impressions", "clicks")


@dataclass
class LogFiles:
    """What the footers say: rows per table (the week's partitions only) and empty days."""

    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    empty_partitions: list[str] = field(default_factory=list)


def _filesystem(logs: str):
    from pyarrow import fs

    if "://" in logs and not logs.startswith("file://"):
        return fs.FileSystem.from_uri(logs)
    return fs.LocalFileSystem(), logs.removeprefix("file://")


def compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a file's column type can be read as the model's type without guessing."""
    t = pa.types
    if t.is_dictionary(actual):
        actual = actual.value_type
    if t.is_null(actual):
        return True  # an all-null column: the rows decide
    if t.is_timestamp(expected):
        return t.is_timestamp(actual)
    if t.is_string(expected) or t.is_large_string(expected):
        return t.is_string(actual) or t.is_large_string(actual) or t.is_binary(actual) or t.is_large_binary(actual)
    if t.is_integer(expected):
        return t.is_integer(actual)
    if t.is_floating(expected):
        return t.is_floating(actual) or t.is_integer(actual)
    if t.is_boolean(expected):
        return t.is_boolean(actual)
    return actual.equals(expected)


def check_schema(path: str, schema: pa.Schema, table: str) -> None:
    """InputError naming the file and column when ``schema`` cannot hold ``table``'s model."""
    model = TABLES[table]
    for expected in arrow_schema(model):
        name = expected.name
        if name not in schema.names:
            if model.model_fields[name].is_required():
                raise InputError(f"logs file {path}: missing column '{name}' ({expected.type}) of table {table}")
            continue
        actual = schema.field(name).type
        if not compatible(actual, expected.type):
            raise InputError(f"logs file {path}: column '{name}' is {actual}, expected {expected.type} "
                             f"(table {table})")


def _parquet_files(filesystem, folder: str) -> list[str] | None:
    from pyarrow import fs

    info = filesystem.get_file_info(folder)
    if info.type == fs.FileType.NotFound:
        return None
    if info.type != fs.FileType.Directory:
        raise InputError(f"logs {folder}: expected a folder, found a file")
    found = filesystem.get_file_info(fs.FileSelector(folder, recursive=True))
    hidden = lambda p: any(part.startswith((".", "_")) for part in p[len(folder):].split("/") if part)  # noqa: E731
    return sorted(i.path for i in found if i.type == fs.FileType.File and not hidden(i.path))


def check_table(filesystem, logs: str, table: str, dates: list[str] | None, out: LogFiles) -> None:
    folder = f"{logs.rstrip('/')}/{table}"
    files = _parquet_files(filesystem, folder)
    if files is None:
        raise InputError(f"logs {logs}: table folder '{table}/' is missing")
    if dates is not None:
        by_date = {d: [f for f in files if f"/date={d}/" in f] for d in dates}
        for date, day_files in by_date.items():
            if not day_files:
                out.empty_partitions.append(f"{table}/date={date}")
                log.warning("logs %s: no file in %s/date=%s; that day counts as empty", logs, table, date)
        files = [f for day in by_date.values() for f in day]
    elif not files:
        raise InputError(f"logs table {table}: no Parquet file under {folder}")
    rows = 0
    for path in files:
        try:
            with filesystem.open_input_file(path) as handle:
                meta = pq.ParquetFile(handle)
                schema, n = meta.schema_arrow, meta.metadata.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"logs file {path}: not a readable Parquet file "
                             f"({str(exc).splitlines()[0][:120]})") from None
        check_schema(path, schema, table)
        rows += n
    out.rows[table], out.files[table] = rows, len(files)


def check_log_files(logs: str, dates: list[str]) -> LogFiles:
    """Check every file of the week's partitions and of the catalogue; count their rows."""
    filesystem, base = _filesystem(str(logs))
    out = LogFiles()
    for table in LOG_TABLES:
        check_table(filesystem, base, table, dates if table in PARTITIONED else None, out)
    if out.rows.get("search_events", 0) == 0:
        raise InputError(f"table search_events: no events in the week's partitions under {logs}/search_events")
    return out
