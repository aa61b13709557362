"""The persisted vector index of earlier query photos: faiss on disk, one entry per photo.

``<root>/_cache/images/index.faiss`` holds the features, ``entries.parquet`` says which
query and week each row is, ``feature.json`` which feature and tolerances made them. An
index of another feature (another dimension, e.g. the 6-float colour feature of older
runs) fails to load with one clear line; one made with other tolerances is rescaled to
the current ones. A week only ever searches entries of earlier weeks plus
its own earlier queries, so rerunning a week (or backfilling an older one) never
matches a query against itself or against the future; its own entries are replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cache.features import DIM, FEATURE
from core.errors import InputError
from core.files import atomic_path, write_text
from jobs.common.storage import cache_dir


def cache_folder(root: Path | str) -> Path:
    return cache_dir(root, "images")


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

    def save(self, folder: Path, scales: np.ndarray | None = None) -> None:
        """Write the files aside, then rename: a crash leaves the previous index intact.

        ``scales``: the tolerance each dimension was divided by (``features.scales``).
        """
        meta = {"feature": FEATURE, "dim": DIM, "scales": None if scales is None else [float(v) for v in scales]}
        with atomic_path(folder / "index.faiss") as index, atomic_path(folder / "entries.parquet") as entries:
            faiss.write_index(self.index, str(index))
            pq.write_table(pa.table({"query_id": self.query_ids, "week": self.weeks}), entries)
            write_text(folder / "feature.json", json.dumps(meta))

    @classmethod
    def load(cls, folder: Path, kind: str = "flat", hnsw_m: int = 32,
             scales: np.ndarray | None = None) -> "ImageIndex":
        """The persisted index, or an empty one; rebuilt when sizes disagree or the kind changed.

        Another feature (dimension or name) raises :class:`InputError`: its vectors cannot
        be compared with this version's and the photos are not kept to recompute them.
        Vectors stored with other tolerances than ``scales`` are rescaled to them.
        """
        out = cls(kind, hnsw_m)
        if not (folder / "index.faiss").exists() or not (folder / "entries.parquet").exists():
            return out
        stored = faiss.read_index(str(folder / "index.faiss"))
        meta_file = folder / "feature.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        feature = meta.get("feature", "colour-v1 (6 floats)" if stored.d == 6 else "unknown")
        if stored.d != DIM or feature != FEATURE:
            raise InputError(
                f"image cache index {folder}: built with feature {feature} ({stored.d} floats), this version "
                f"uses {FEATURE} ({DIM} floats). Move the folder aside and rerun `intentmine cache` for the "
                f"earlier weeks, oldest first, to rebuild it (or start empty: earlier weeks then never match)")
        entries = pq.read_table(folder / "entries.parquet")
        n = min(stored.ntotal, entries.num_rows)
        if n:
            vectors = stored.reconstruct_n(0, n)
            if scales is not None and meta.get("scales") and not np.allclose(meta["scales"], scales):
                vectors = (vectors * (np.asarray(meta["scales"]) / np.asarray(scales))).astype(np.float32)
            out.index.add(vectors)
            out.query_ids = entries.column("query_id").to_pylist()[:n]
            out.weeks = entries.column("week").to_pylist()[:n]
        return out
