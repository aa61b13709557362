"""Immutable tool-list versions: ``<root>/_registry/tool_lists/v0001.parquet`` (+ ``.json``).

A version number is given to each distinct tool list content (the rows without
``run_id`` and ``list_version``). Publishing the same content again (a rerun) gets
the same number back; new content gets the next number. A version file is created
with an exclusive link, so once published it is never replaced.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.common import fs
from jobs.common.storage import registry_dir, write_file

VOLATILE = ("run_id", "list_version")


def folder(root: Path | str) -> Path | str:
    return fs.join(registry_dir(root), "tool_lists")


def content_hash(tools: pa.Table) -> str:
    keep = [c for c in tools.column_names if c not in VOLATILE]
    rows = sorted(tools.select(keep).to_pylist(), key=lambda r: r["index"])
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def known_versions(root: Path | str) -> dict[str, int]:
    """content hash -> version number of every published version."""
    place = folder(root)
    found = {}
    for name in (n for n in fs.names(place) if n.startswith("v") and n.endswith(".json")):
        info = json.loads(fs.read_text(fs.join(place, name)))
        found[info["hash"]] = info["version"]
    return found


def version_path(root: Path | str, version: int) -> Path | str:
    return fs.join(folder(root), f"v{version:04d}.parquet")


def assign_version(root: Path | str, tools: pa.Table) -> tuple[int, bool]:
    """(version number, whether it is new) for this content; nothing is written."""
    digest = content_hash(tools)
    known = known_versions(root)
    if digest in known:
        return known[digest], False
    return max(known.values(), default=0) + 1, True


def publish_version(root: Path | str, version: int, tools: pa.Table, week: str, run_id: str) -> Path:
    """Write version ``version`` once; an existing version file is left untouched.

    Callers hold the registry lock (``storage.stage_run(shared=("registry",))``), so the
    existence check and the write are one step; the ``.json`` beside it, written last,
    is what makes the version known.
    """
    final = version_path(root, version)
    meta_file = fs.join(folder(root), f"v{version:04d}.json")
    if fs.exists(meta_file):
        return final
    sink = pa.BufferOutputStream()
    pq.write_table(tools, sink, compression="zstd")
    write_file(final, sink.getvalue().to_pybytes())
    meta = {"version": version, "hash": content_hash(tools), "week": week, "run_id": run_id,
            "tools": tools.num_rows}
    write_file(meta_file, json.dumps(meta, indent=1).encode())
    return final
