"""The persisted vector index of earlier query photos: faiss on disk, one entry per photo.

``<root>/_cache/images/index.faiss`` holds the features, ``entries.parquet`` says which
query and week each row is. A week only ever searches entries of earlier weeks plus
its own earlier queries, so rerunning a week (or backfilling an older one) never
matches a query against itself or against the future; its own entries are replaced.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cache.features import DIM


def cache_folder(root: Path | str) -> Path:
    return Path(root) / "_cache" / "images"


def new_index(kind: str, hnsw_m: int, dim: int = DIM) -> faiss.Index:
    """Exact L2 (``flat``) or approximate HNSW over L2 (``hnsw``, for millions of photos)."""
    if kind == "flat":
        return faiss.IndexFlatL2(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m)
        index.hnsw.efSearch = max(64, hnsw_m * 2)
        return index
    raise ValueError(f"cache index '{kind}': expected flat or hnsw")


class ImageIndex:
    """Vectors with their (query id, week) labels; search returns squared L2 distances."""

    def __init__(self, kind: str = "flat", hnsw_m: int = 32):
        self.kind, self.hnsw_m = kind, hnsw_m
        self.index = new_index(kind, hnsw_m)
        self.query_ids: list[str] = []
        self.weeks: list[str] = []

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, query_ids: list[str], week: str) -> None:
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, DIM))
        self.query_ids += list(query_ids)
        self.weeks += [week] * len(query_ids)

    def search(self, vectors: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, DIM), k)

    def vectors(self) -> np.ndarray:
        return self.index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, DIM), np.float32)

    def subset(self, keep) -> "ImageIndex":
        """A new index with the entries whose week satisfies ``keep(week)``."""
        rows = [i for i, w in enumerate(self.weeks) if keep(w)]
        out = ImageIndex(self.kind, self.hnsw_m)
        if rows:
            vectors = self.vectors()[rows]
            out.index.add(vectors)
            out.query_ids = [self.query_ids[i] for i in rows]
            out.weeks = [self.weeks[i] for i in rows]
        return out

    def save(self, folder: Path) -> None:
        """Write both files aside, then rename: a crash leaves the previous pair intact."""
        folder.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex
        faiss.write_index(self.index, str(folder / f".index.{tag}"))
        pq.write_table(pa.table({"query_id": self.query_ids, "week": self.weeks}), folder / f".entries.{tag}")
        os.replace(folder / f".entries.{tag}", folder / "entries.parquet")
        os.replace(folder / f".index.{tag}", folder / "index.faiss")

    @classmethod
    def load(cls, folder: Path, kind: str = "flat", hnsw_m: int = 32) -> "ImageIndex":
        """The persisted index, or an empty one; rebuilt when sizes disagree or the kind changed."""
        out = cls(kind, hnsw_m)
        if not (folder / "index.faiss").exists() or not (folder / "entries.parquet").exists():
            return out
        stored = faiss.read_index(str(folder / "index.faiss"))
        entries = pq.read_table(folder / "entries.parquet")
        n = min(stored.ntotal, entries.num_rows)
        if n:
            out.index.add(stored.reconstruct_n(0, n))
            out.query_ids = entries.column("query_id").to_pylist()[:n]
            out.weeks = entries.column("week").to_pylist()[:n]
        return out
