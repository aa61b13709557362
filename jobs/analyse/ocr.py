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

SCALES = (0.8, 0.87, 0.94, 1.0, 1.07, 1.14, 1.22, 1.3)
NONE = "none"


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


def ink_mask(rgb: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Pixels within the item's rows that look like printed text: at least half-way from the item's
    colour to white (on a dark item) or to black (on a light one), and unlike the background."""
    img = rgb.astype(np.float32)
    if foreground.sum() < 16:
        return np.zeros(foreground.shape, bool)
    item = np.median(img[foreground], axis=0)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    background = np.median(border, axis=0)
    target = np.full(3, 255.0 if item.sum() < 380 else 10.0, np.float32)
    direction = target - item
    toward = (img - item) @ direction / max(float(direction @ direction), 1.0)
    ink = (toward > 0.45) & (np.linalg.norm(img - background, axis=2) > 18)
    cols = np.arange(foreground.shape[1])
    first = np.where(foreground.any(1), foreground.argmax(1), foreground.shape[1])
    last = np.where(foreground.any(1), foreground.shape[1] - 1 - foreground[:, ::-1].argmax(1), -1)
    inside = (cols[None, :] >= first[:, None]) & (cols[None, :] <= last[:, None])
    return ink & inside


def _box_sums(ink: np.ndarray, h: int, w: int) -> np.ndarray:
    """Ink pixels in every h×w window (the ``valid`` positions), from one summed-area table."""
    table = np.zeros((ink.shape[0] + 1, ink.shape[1] + 1), np.int64)
    table[1:, 1:] = ink.cumsum(0).cumsum(1)
    return (table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]).astype(np.float32)


@lru_cache(maxsize=8192)
def _template_spectrum(word: str, scale: float, shape: tuple[int, int]) -> np.ndarray:
    """The flipped template's real FFT at ``shape`` (the same for every photo of one size)."""
    return sfft.rfft2(_template(word, scale)[::-1, ::-1].astype(np.float32), shape)


def _scores(ink: np.ndarray, words: list[tuple[str, float]]) -> list[float]:
    """Best overlap of each template with the ink: matched / sqrt(template ink · window ink).

    The ink's FFT is taken once for all templates (and each template's once per photo size),
    so a template costs one product and one inverse FFT instead of a whole convolution.
    """
    templates = [_template(w, s) for w, s in words]
    fits = [t.shape[0] <= ink.shape[0] and t.shape[1] <= ink.shape[1] and t.any() for t in templates]
    if not any(fits):
        return [0.0] * len(words)
    h_max = max(t.shape[0] for t, ok in zip(templates, fits) if ok)
    w_max = max(t.shape[1] for t, ok in zip(templates, fits) if ok)
    shape = (sfft.next_fast_len(ink.shape[0] + h_max - 1, real=True),
             sfft.next_fast_len(ink.shape[1] + w_max - 1, real=True))
    spectrum = sfft.rfft2(ink.astype(np.float32), shape)
    out = []
    for (word, scale), template, ok in zip(words, templates, fits):
        if not ok:
            out.append(0.0)
            continue
        h, w = template.shape
        full = sfft.irfft2(spectrum * _template_spectrum(word, scale, shape), shape)
        overlap = full[h - 1: ink.shape[0], w - 1: ink.shape[1]]
        window = _box_sums(ink, h, w)
        out.append(float((overlap / np.sqrt(template.sum() * np.maximum(window, 1.0))).max()))
    return out


def read_brand(rgb: np.ndarray, foreground: np.ndarray, candidates: tuple[str, ...],
               min_score: float = 0.35, margin: float = 0.025) -> str:
    """The candidate printed on the photo, or ``"none"`` when no candidate is read clearly."""
    ink = ink_mask(rgb, foreground)
    if ink.sum() < 12 or not candidates:
        return NONE
    words = [(c[:12], s) for c in candidates for s in SCALES]
    per_word = _scores(ink, words)
    scored = sorted(((max(per_word[i * len(SCALES):(i + 1) * len(SCALES)]), c) for i, c in enumerate(candidates)),
                    reverse=True)
    best, name = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    return name if best >= min_score and best - runner_up >= margin else NONE
