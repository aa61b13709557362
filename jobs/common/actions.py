"""The ``--actions FILE`` input of ``cluster`` and ``ontology propose``: read with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InputError

ACTION_COLUMN = "action"
EXPECTED = "expected .txt (one action per line), or .csv/.parquet with a column 'action'"


def read_actions(path: str | Path) -> list[str]:
    """Actions of a ``--actions`` file, in file order; every row must hold text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".csv", ".parquet"):
        raise InputError(f"{path}: unknown actions file type '{suffix}'; {EXPECTED}")
    try:
        if suffix == ".txt":
            return _txt_actions(path)
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
            return _column_actions(path, frame.columns, lambda: frame[ACTION_COLUMN].tolist(), first=2)
        schema = pq.read_schema(path)
        return _column_actions(path, schema.names,
                               lambda: pq.read_table(path, columns=[ACTION_COLUMN]).column(0).to_pylist(),
                               first=0)
    except InputError:
        raise
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pa.ArrowException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the actions file ({reason}); {EXPECTED}") from None


def _txt_actions(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    _require_rows(path, lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise InputError(f"{path}: line {number}: empty action; expected one action per line")
    return lines


def _column_actions(path: Path, columns, load, first: int) -> list[str]:
    """Values of the ``action`` column; ``first`` is how rows are numbered in messages."""
    if ACTION_COLUMN not in list(columns):
        raise InputError(f"{path}: no column '{ACTION_COLUMN}' (columns: {', '.join(map(str, columns))})")
    actions = load()
    _require_rows(path, actions)
    for index, action in enumerate(actions):
        if not isinstance(action, str) or not action.strip():
            where = f"line {index + first}" if first else f"row {index}"
            raise InputError(f"{path}: {where}, column '{ACTION_COLUMN}': expected a non-empty text, "
                             f"got {action!r}")
    return actions


def _require_rows(path: Path, rows: list) -> None:
    if not rows:
        raise InputError(f"{path}: no actions; {EXPECTED}")


def add_week_arguments(parser, root_help: str = "warehouse root",
                       week_help: str = "ISO week, e.g. 2026-W47") -> None:
    """The required ``--root DIR --week W`` of a command that works on one week of the warehouse."""
    parser.add_argument("--root", type=Path, required=True, help=root_help)
    parser.add_argument("--week", required=True, help=week_help)


def add_stage_arguments(parser) -> None:
    """``--root``, ``--week`` and ``--logs``: what the image-reading stages (cache, analyse) share."""
    add_week_arguments(parser, root_help="warehouse root (reads samples)")
    parser.add_argument("--logs", type=Path, default=None,
                        help="logs folder the samples' image_uri is relative to (default: settings logs)")


def add_source_arguments(parser) -> None:
    """``--root``/``--week`` (a week's signals) or ``--actions FILE``: the two input forms."""
    parser.add_argument("--root", type=Path, help="warehouse root (with --week)")
    parser.add_argument("--week", help="ISO week, e.g. 2026-W47 (with --root)")
    parser.add_argument("--actions", type=Path,
                        help=".txt (one per line) or .csv/.parquet with a column 'action'")


def check_source(args, command: str, needs_out: bool) -> None:
    """Exactly one input form: --actions FILE, or --root DIR with --week W."""
    by_file = args.actions is not None
    by_week = args.root is not None or args.week is not None
    if by_file == by_week:
        raise InputError(f"{command}: give either --actions FILE or --root DIR --week W")
    if by_week and (args.root is None or args.week is None):
        raise InputError(f"{command}: --root and --week go together")
    if needs_out and by_file and args.out is None:
        raise InputError(f"{command}: --actions needs --out OUT.parquet")
    if needs_out and by_week and args.out is not None:
        raise InputError(f"{command}: --out is for --actions; with --root the tables are published")
