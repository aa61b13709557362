"""Reading a brand printed on a photo: binary templates of candidate words slid over the ink.

A stand-in for the VLM's OCR that works on pixels alone. The candidates are the brand
names the week's product metadata knows (what a shopper could have photographed); each
is rendered in the default font at a few scales and slid over the photo's ink mask
(pixels far from the item's colour and close to white or black). The best candidate
wins when its overlap score clears ``min_score`` and beats the runner-up by ``margin``;
otherwise nothing is read. It reads the font it knows: printed text in another font
would need a real OCR model (the VLM backend).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import fft as sfft

from jobs.common.images import median_colour

SCALES = (0.8, 0.87, 0.94, 1.0, 1.07, 1.14, 1.22, 1.3)
NONE = "none"
MIN_INK = 12  # fewer ink pixels than this: nothing is printed
PAD = 32  # FFT sizes are multiples of this: few distinct sizes, each templates' spectra cached


@lru_cache(maxsize=4096)
def _template(word: str, scale: float) -> np.ndarray:
    """The word as a binary mask (True = ink), cropped to its ink, resized by ``scale``."""
    font = ImageFont.load_default()
    left, top, right, bottom = font.getbbox(word)
    img = Image.new("L", (right + 4, bottom + 4), 0)
    ImageDraw.Draw(img).text((2, 2), word, fill=255, font=font)
    if scale != 1.0:
        img = img.resize((max(int(round(img.width * scale)), 1), max(int(round(img.height * scale)), 1)),
                         Image.BILINEAR)
    mask = np.asarray(img) > 100
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1] if rows.size else mask


def ink_mask(rgb: np.ndarray, foreground: np.ndarray, distance: np.ndarray | None = None) -> np.ndarray:
    """Pixels within the item's rows that look like printed text: at least half-way from the item's
    colour to white (on a dark item) or to black (on a light one), and unlike the background
    (``distance``: each pixel's distance from the border's median colour, when the caller has it)."""
    img = rgb.astype(np.float32)
    if foreground.sum() < 16:
        return np.zeros(foreground.shape, bool)
    item = median_colour(rgb, foreground) if rgb.dtype == np.uint8 else np.median(img[foreground], axis=0)
    if distance is None:
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        distance = np.linalg.norm(img - np.median(border, axis=0), axis=2)
    target = np.full(3, 255.0 if item.sum() < 380 else 10.0, np.float32)
    direction = target - item
    toward = (img - item) @ direction / max(float(direction @ direction), 1.0)
    ink = (toward > 0.45) & (distance > 18)
    cols = np.arange(foreground.shape[1])
    first = np.where(foreground.any(1), foreground.argmax(1), foreground.shape[1])
    last = np.where(foreground.any(1), foreground.shape[1] - 1 - foreground[:, ::-1].argmax(1), -1)
    inside = (cols[None, :] >= first[:, None]) & (cols[None, :] <= last[:, None])
    return ink & inside


@lru_cache(maxsize=4096)
def _ink_count(word: str, scale: float) -> int:
    return int(_template(word, scale).sum())


def _summed_area(ink: np.ndarray) -> np.ndarray:
    """The ink's summed-area table (one per photo): any window's ink count is four lookups."""
    table = np.zeros((ink.shape[0] + 1, ink.shape[1] + 1), np.int32)
    table[1:, 1:] = ink.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    return table


@lru_cache(maxsize=96)  # a few MB each at 96 px: every crop size of every category's words
def _template_spectra(words: tuple[tuple[str, float], ...], shape: tuple[int, int]) -> np.ndarray:
    """The flipped templates' real FFTs at ``shape``, stacked (the same for every photo of one size)."""
    stack = np.zeros((len(words), *shape), np.float32)
    for i, (word, scale) in enumerate(words):
        t = _template(word, scale)
        stack[i, :t.shape[0], :t.shape[1]] = t[::-1, ::-1]
    return sfft.rfft2(stack, shape)


def _ink_window(ink: np.ndarray, h_max: int, w_max: int) -> np.ndarray:
    """The part of the ink any template window touching ink lies in: its bounding box widened
    by the largest template, clipped to the photo (windows elsewhere overlap no ink)."""
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    r0, r1 = max(rows[0] - h_max + 1, 0), min(rows[-1] + h_max, ink.shape[0])
    c0, c1 = max(cols[0] - w_max + 1, 0), min(cols[-1] + w_max, ink.shape[1])
    return ink[r0:r1, c0:c1]


def _padded(n: int) -> int:
    """An FFT length >= n from a short list (multiples of ``PAD``), so template spectra are reused."""
    return -(-n // PAD) * PAD


def _scores(ink: np.ndarray, words: list[tuple[str, float]]) -> list[float]:
    """Best overlap of each template with the ink: matched / sqrt(template ink · window ink).

    Windows are searched only around the ink (the rest score 0), with the ink's FFT taken
    once, every fitting template's product with it inverted in one batched FFT, and one
    summed-area table for every window size (its row bands shared by templates of one height).
    """
    templates = [_template(w, s) for w, s in words]
    fits = [t.shape[0] <= ink.shape[0] and t.shape[1] <= ink.shape[1] and t.any() for t in templates]
    if not any(fits) or not ink.any():
        return [0.0] * len(words)
    h_max = max(t.shape[0] for t, ok in zip(templates, fits) if ok)
    w_max = max(t.shape[1] for t, ok in zip(templates, fits) if ok)
    ink = _ink_window(ink, h_max, w_max)  # never smaller than a template that fitted the photo
    fitting = [(w, t) for w, t, ok in zip(words, templates, fits) if ok]
    shape = (_padded(ink.shape[0]), _padded(ink.shape[1]))  # circular: the valid part never wraps
    spectra = _template_spectra(tuple(w for w, _ in fitting), shape)
    full = sfft.irfft2(spectra * sfft.rfft2(ink.astype(np.float32), shape), shape)
    table = _summed_area(ink)
    bands: dict[int, np.ndarray] = {}  # ink of every h-row band, as column prefix sums (one per height)
    best = {}
    for i, (word, template) in enumerate(fitting):
        h, w = template.shape
        band = bands.get(h)
        if band is None:
            band = bands[h] = table[h:] - table[:-h]
        window = np.maximum(band[:, w:] - band[:, :-w], 1).astype(np.float32)  # ink in every h×w window
        window *= _ink_count(*word)
        best[word] = float((full[i, h - 1: ink.shape[0], w - 1: ink.shape[1]] / np.sqrt(window, out=window)).max())
    return [best.get(w, 0.0) for w in words]


def read_brand(rgb: np.ndarray, foreground: np.ndarray, candidates: tuple[str, ...],
               min_score: float = 0.35, margin: float = 0.025) -> str:
    """The candidate printed on the photo, or ``"none"`` when no candidate is read clearly."""
    return brand_in_ink(ink_mask(rgb, foreground), candidates, min_score, margin)


def brand_in_ink(ink: np.ndarray, candidates: tuple[str, ...], min_score: float = 0.35,
                 margin: float = 0.025) -> str:
    """:func:`read_brand` from the photo's :func:`ink_mask` (which depends on the pixels alone)."""
    if ink.sum() < MIN_INK or not candidates:
        return NONE
    words = [(c[:12], s) for c in candidates for s in SCALES]
    per_word = _scores(ink, words)
    scored = sorted(((max(per_word[i * len(SCALES):(i + 1) * len(SCALES)]), c) for i, c in enumerate(candidates)),
                    reverse=True)
    best, name = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    return name if best >= min_score and best - runner_up >= margin else NONE
