"""Finished model requests, kept as they arrive, so a killed run resumes without resending.

One SQLite file per week (``<root>/_checkpoints/analyse/week=W.sqlite``): a row per
request key (a hash of prompt version, model and inputs) with the parsed answer or
the raw text of a failure, committed one by one. SQLite because several processes
(Spark executors, a rerun after a crash) may share the file, and a half-written row
cannot survive a crash the way a half-written JSON line can.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

_SCHEMA = """CREATE TABLE IF NOT EXISTS outcomes (
  key TEXT PRIMARY KEY, status TEXT NOT NULL, output TEXT, raw TEXT, error TEXT,
  prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, attempts INTEGER)"""
FIELDS = ("status", "output", "raw", "error", "prompt_tokens", "completion_tokens", "latency_s", "attempts")


def request_key(prompt_key: str, prompt_digest: str, model: str, inputs: object) -> str:
    """Stable key of a request: the same prompt version, model and inputs give the same key."""
    text = json.dumps([prompt_key, prompt_digest, model, inputs], sort_keys=True, ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Checkpoint:
    """Key -> finished outcome (a dict of :data:`FIELDS`), durable after each :meth:`put`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process; cheap commits
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> dict | None:
        row = self._db.execute(f"SELECT {', '.join(FIELDS)} FROM outcomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        out = dict(zip(FIELDS, row))
        out["output"] = json.loads(out["output"]) if out["output"] else None
        return out

    def put(self, key: str, outcome: dict) -> None:
        values = [outcome.get(f) for f in FIELDS]
        if outcome.get("output") is not None:
            values[FIELDS.index("output")] = json.dumps(outcome["output"])
        self._db.execute(f"INSERT OR REPLACE INTO outcomes (key, {', '.join(FIELDS)}) "
                         f"VALUES (?{', ?' * len(FIELDS)})", (key, *values))

    def keys(self) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT key FROM outcomes")}

    def close(self) -> None:
        self._db.close()
