"""Atomic writes of local files: write beside the target, then ``os.replace`` it in.

Readers see the old file or the new one, never half of one, and a failed write
leaves nothing behind. This is the one place the idiom is spelled out.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    For writers that want a file name (``pyarrow.parquet.write_table``, ``np.save``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise located(exc, path) from None
    finally:
        tmp.unlink(missing_ok=True)


def aside(path: Path) -> Path:
    """A hidden temporary name beside ``path`` (``.<name>.<random>.tmp``)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def located(exc: OSError, path: str | Path) -> OSError:
    """``exc`` naming ``path`` when it names no file (a write's ENOSPC, an Arrow IOError).

    ``write(2)`` errors carry no file name, and Arrow's carry the errno only in their
    text; the command line's one line needs both the path and the reason.
    """
    if exc.filename is not None:
        return exc
    code = exc.errno
    if code is None and (found := re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)):
        code = int(found[1])
    if code:
        return OSError(code, os.strerror(code), str(path))
    return OSError(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, str(path))


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def create_once(path: str | Path, write) -> bool:
    """Create ``path`` with ``write(tmp_path)`` unless it exists; never replaces a file.

    The new file appears with a hard link, which fails when another writer got there
    first; returns whether this call created it.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside(path)
    try:
        write(tmp)
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise located(exc, path) from None
    finally:
        tmp.unlink(missing_ok=True)
