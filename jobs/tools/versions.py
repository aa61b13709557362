"""Immutable tool-list versions: ``<root>/_registry/tool_lists/v0001.parquet`` (+ ``.json``).

A version number is given to each distinct tool list content (the rows without
``run_id`` and ``list_version``). Publishing the same content again (a rerun) gets
the same number back; new content gets the next number. A version file is created
with an exclusive link, so once published it is never replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FOLDER = Path("_registry") / "tool_lists"
VOLATILE = ("run_id", "list_version")


def content_hash(tools: pa.Table) -> str:
    keep = [c for c in tools.column_names if c not in VOLATILE]
    rows = sorted(tools.select(keep).to_pylist(), key=lambda r: r["index"])
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def known_versions(root: Path | str) -> dict[str, int]:
    """content hash -> version number of every published version."""
    folder = Path(root) / FOLDER
    found = {}
    for meta in folder.glob("v*.json") if folder.exists() else []:
        info = json.loads(meta.read_text())
        found[info["hash"]] = info["version"]
    return found


def version_path(root: Path | str, version: int) -> Path:
    return Path(root) / FOLDER / f"v{version:04d}.parquet"


def assign_version(root: Path | str, tools: pa.Table) -> tuple[int, bool]:
    """(version number, whether it is new) for this content; nothing is written."""
    digest = content_hash(tools)
    known = known_versions(root)
    if digest in known:
        return known[digest], False
    return max(known.values(), default=0) + 1, True


def publish_version(root: Path | str, version: int, tools: pa.Table, week: str, run_id: str) -> Path:
    """Write version ``version`` once; an existing version file is left untouched."""
    final = version_path(root, version)
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(tools, tmp, compression="zstd")
    try:
        os.link(tmp, final)  # fails if another writer got there first: never overwrite
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    meta = {"version": version, "hash": content_hash(tools), "week": week, "run_id": run_id,
            "tools": tools.num_rows}
    meta_path = final.with_suffix(".json")
    tmp_meta = meta_path.with_name(f".{meta_path.name}.{uuid.uuid4().hex}.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, meta_path)
    return final
