"""Which photo each image query shows, and drawing those photos fast and in parallel.

:func:`plan_photos` decides, in time order, whether an image query uploads a new photo
or re-uploads an earlier one (``reupload_share`` of them; half of the re-uploads send
the same file again, half a near-duplicate: crop, rescale, JPEG), so distinct photos
grow in proportion to the queries, as real uploads do. Every photo is a pure function
of (seed, photo number): each gets its own random generator, so photos can be drawn
in any order by any number of worker processes and the files are the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.parallel import map_chunks
from jobs.generate.images import apply_defect, item_pixels, near_duplicate

VARIANT_SHARE = 0.5  # of re-uploads: a near-duplicate file (the rest re-send the same file)
NOISE = 6.0  # camera noise, grey levels (standard deviation)
CHUNK = 2_048  # photos per worker task
JPEG_QUALITY = 92


def plan_photos(n_image: int, reupload_share: float, rng: np.random.Generator,
                max_files: int = 0) -> dict[str, np.ndarray]:
    """Per image query (time order): its file and, per file, the file it re-uploads (-1: an original).

    Returns ``query_file`` (n_image,) and ``file_source`` (n_files,). A re-upload picks a
    uniformly random earlier original. ``max_files`` > 0 caps the files: later queries
    re-send a random earlier file (the old fixed photo pool).
    """
    if n_image == 0:
        return {"query_file": np.zeros(0, np.int64), "file_source": np.zeros(0, np.int64)}
    reupload = rng.random(n_image) < reupload_share
    reupload[0] = False
    originals = np.flatnonzero(~reupload)
    before = np.cumsum(~reupload)  # originals up to and including each query
    pick = originals[(rng.random(n_image) * before).astype(np.int64)]  # an earlier original (query index)
    variant = reupload & (rng.random(n_image) < VARIANT_SHARE)
    owns_file = ~reupload | variant
    file_of = np.full(n_image, -1, np.int64)
    file_of[owns_file] = np.arange(int(owns_file.sum()))
    query_file = np.where(owns_file, file_of, file_of[pick])
    file_source = np.where(variant, file_of[pick], -1)[owns_file]
    if max_files and len(file_source) > max_files:
        over = query_file >= max_files
        query_file[over] = rng.integers(0, max_files, int(over.sum()))
        file_source = file_source[:max_files]
    return {"query_file": query_file, "file_source": file_source}


def photo_rng(seed: int, number: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, number, salt])


def noise_bank(seed: int, size: int = 1 << 22) -> np.ndarray:
    """Camera noise drawn once; each photo adds a window of it at a random offset."""
    return photo_rng(seed, 0, 2).normal(0, NOISE, size).astype(np.float32)


def shopper_photo(img: Image.Image | np.ndarray, rng: np.random.Generator, bank: np.ndarray) -> Image.Image:
    """A catalogue picture (or its pixels) as a shopper's photo: tinted background, light, camera noise."""
    arr = np.asarray(img)
    tint = rng.uniform(0.75, 1.0, 3).astype(np.float32)
    light = np.float32(rng.uniform(0.85, 1.1))
    # the background takes the tint (a two-step minimum: numpy's reduce over a last axis of 3 is slow)
    white = np.minimum(np.minimum(arr[..., 0], arr[..., 1]), arr[..., 2]) > 240
    out = np.empty(arr.shape, np.float32)
    for c in range(3):  # channel by channel: a broadcast over a last axis of 3 is several times slower
        np.multiply(arr[..., c], np.where(white, tint[c] * light, light), out=out[..., c])
    start = int(rng.integers(0, bank.size - arr.size))
    out += bank[start:start + arr.size].reshape(arr.shape)
    return Image.fromarray(np.clip(out, 0, 255, out=out).astype(np.uint8))


class PhotoSpec:
    """What every file shows: item rows (shape, colour, brand, pattern) and per-file product, text,
    defect, source."""

    def __init__(self, seed: int, size: int, items: list[tuple[str, str, str, str | None]], product: np.ndarray,
                 brand_text: np.ndarray, defect: np.ndarray, source: np.ndarray, defects: tuple[str, ...]):
        self.seed, self.size, self.items, self.defects = seed, size, items, defects
        self.product, self.brand_text, self.defect, self.source = product, brand_text, defect, source
        self._bank: np.ndarray | None = None

    def original(self, j: int) -> Image.Image:
        if self._bank is None:
            self._bank = noise_bank(self.seed)
        rng = photo_rng(self.seed, j)
        shape, colour, brand, pattern = self.items[int(self.product[j])]
        img = shopper_photo(item_pixels(self.size, shape, colour, rng, brand if self.brand_text[j] else None,
                                        pattern=pattern), rng, self._bank)
        if self.defect[j] >= 0:
            img = apply_defect(img, self.defects[int(self.defect[j])], rng)
        return img

    def photo(self, j: int) -> Image.Image:
        src = int(self.source[j])
        if src < 0:
            return self.original(j)
        return near_duplicate(self.original(src), photo_rng(self.seed, j, 1))


def file_name(j: int) -> str:
    return f"images/queries/img{j:07d}.jpg"


_SPEC: PhotoSpec | None = None
_OUT: Path | None = None


def _init(spec: PhotoSpec, out: str) -> None:
    global _SPEC, _OUT
    _SPEC, _OUT = spec, Path(out)


def _draw_chunk(numbers: np.ndarray) -> list:
    for j in numbers.tolist():
        _SPEC.photo(j).save(_OUT / file_name(j), format="JPEG", quality=JPEG_QUALITY)
    return []  # the files are the result


def draw_photos(out: Path, spec: PhotoSpec, workers: int = 0, progress=None) -> int:
    """Write every query photo under ``out`` (JPEG); ``workers`` processes (0: one per core).

    Each photo is a pure function of (seed, number), so the files do not depend on the count
    or the order; they are drawn grouped by the item they show, so that a worker draws each
    item once per margin and moves it (:func:`jobs.generate.images.draw_item`).
    """
    (out / "images" / "queries").mkdir(parents=True, exist_ok=True)
    n = len(spec.source)
    number = np.arange(n)
    shown = np.where(spec.source >= 0, spec.source, number)  # a near-duplicate shows its source's item
    order = np.lexsort((number, spec.brand_text[shown], spec.product[shown]))
    map_chunks(_draw_chunk, order, CHUNK, workers, _init, (spec, str(out)), progress, min_per_worker=CHUNK)
    return n
