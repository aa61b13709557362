"""Drawn product and query photos: a shape in its colour and pattern, sometimes a printed brand.

Query photos add a background, lighting and camera noise, and can carry a defect
(tiny, blurred, dark, bright, near-uniform) or be a near-duplicate of an earlier
photo (crop, rescale, JPEG noise). Everything is deterministic for a seed.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from jobs.generate.catalogue import COLOURS

DEFECTS = ("tiny", "blurred", "dark", "bright", "uniform")
PATTERNS = ("plain", "striped", "checked", "floral", "logo print")  # what :func:`draw_item` can draw
_FONT = ImageFont.load_default()


def _shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    outline = tuple(max(c - 60, 0) for c in fill)
    if shape in ("ring", "necklace"):
        width = max(w // 8, 2)
        draw.ellipse(box, outline=fill, width=width)
        if shape == "necklace":
            draw.ellipse((x0 + w // 3, y1 - h // 4, x1 - w // 3, y1), fill=fill)
    elif shape in ("bottle", "cylinder", "tube", "lamp"):
        neck = w // 3 if shape == "bottle" else w // 6
        draw.rectangle((x0 + neck, y0, x1 - neck, y0 + h // 5), fill=outline)
        draw.rounded_rectangle((x0 + w // 8, y0 + h // 5, x1 - w // 8, y1), radius=w // 6, fill=fill)
    elif shape in ("shirt", "dress"):
        pts = [(x0, y0 + h // 5), (x0 + w // 3, y0), (x1 - w // 3, y0), (x1, y0 + h // 5),
               (x1 - w // 6, y0 + h // 3), (x1 - w // 6 + (w // 8 if shape == "dress" else 0), y1),
               (x0 + w // 6 - (w // 8 if shape == "dress" else 0), y1), (x0 + w // 6, y0 + h // 3)]
        draw.polygon(pts, fill=fill, outline=outline)
    elif shape == "trousers":
        draw.polygon([(x0 + w // 6, y0), (x1 - w // 6, y0), (x1, y1), (x0 + w // 2 + 4, y1),
                      (x0 + w // 2, y0 + h // 3), (x0 + w // 2 - 4, y1), (x0, y1)], fill=fill)
    elif shape in ("shoe", "car"):
        draw.rounded_rectangle((x0, y0 + h // 2, x1, y1 - h // 8), radius=h // 8, fill=fill)
        draw.rectangle((x0 + w // 4, y0 + h // 4, x1 - w // 3, y0 + h // 2), fill=fill)
        if shape == "car":
            for cx in (x0 + w // 4, x1 - w // 4):
                draw.ellipse((cx - h // 8, y1 - h // 4, cx + h // 8, y1), fill=(20, 20, 20))
    elif shape == "bear":
        draw.ellipse((x0 + w // 6, y0 + h // 3, x1 - w // 6, y1), fill=fill)
        draw.ellipse((x0 + w // 4, y0, x1 - w // 4, y0 + h // 2), fill=fill)
        for cx in (x0 + w // 4, x1 - w // 4):
            draw.ellipse((cx - w // 10, y0, cx + w // 10, y0 + h // 5), fill=outline)
    elif shape in ("bolt", "cable"):
        draw.rectangle((x0 + w // 2 - w // 12, y0 + h // 5, x0 + w // 2 + w // 12, y1), fill=fill)
        draw.polygon([(x0 + w // 4, y0), (x1 - w // 4, y0), (x1 - w // 5, y0 + h // 5),
                      (x0 + w // 5, y0 + h // 5)], fill=outline)
    elif shape == "chip":
        draw.rectangle((x0 + w // 6, y0 + h // 4, x1 - w // 6, y1 - h // 4), fill=fill)
        for k in range(5):
            x = x0 + w // 6 + k * (w * 2 // 3) // 5 + 2
            draw.line((x, y0 + h // 8, x, y1 - h // 8), fill=(190, 190, 190), width=2)
    elif shape == "bag":
        draw.polygon([(x0 + w // 8, y0 + h // 6), (x1 - w // 8, y0 + h // 6), (x1, y1), (x0, y1)], fill=fill)
    else:  # box
        draw.rectangle((x0 + w // 10, y0 + h // 6, x1 - w // 10, y1), fill=fill, outline=outline)


def pattern_mask(pattern: str | None, size: int, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Where ``pattern`` puts ink, as a (size, size) bool array (None: plain or no pattern).

    Drawn in the item's own frame (no randomness, so it uses none of the photo's random
    stream): stripes and checks with a period of a fifth of the item's height, floral dots
    on a staggered grid, and one round emblem low on the item for a logo print.
    """
    if pattern in (None, "plain"):
        return None
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    period = max(h // 5, 8)
    yy, xx = np.arange(size)[:, None], np.arange(size)[None, :]  # broadcast: each rule runs on a row or a column
    if pattern == "striped":
        return np.broadcast_to((yy - y0) % period < max(period // 3, 2), (size, size)).copy()
    if pattern == "checked":
        band = max(period // 6, 2)
        return ((yy - y0) % period < band) | ((xx - x0) % period < band)
    if pattern == "floral":
        row = (yy - y0) // period
        dy = (yy - y0) % period - period / 2
        dx = (xx - x0 + (row % 2) * period // 2) % period - period / 2
        return dx * dx + dy * dy <= (period / 4) ** 2
    if pattern == "logo print":
        cx, cy, r = x0 + w / 2, y0 + 0.72 * h, h / 8
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")


def _ink(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """The pattern's colour: a shade of the fill (darker on light colours, lighter on dark ones)."""
    if 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 128:
        return tuple(int(c * 0.6) for c in fill)
    return tuple(int(c + (255 - c) * 0.45) for c in fill)


def draw_item(size: int, shape: str, colour: str, rng: np.random.Generator,
              text: str | None = None, background: tuple[int, int, int] = (248, 248, 248),
              pattern: str | None = None) -> Image.Image:
    """A catalogue-style picture: the item centred on a plain background, in its pattern (see :func:`item_pixels`)."""
    return Image.fromarray(item_pixels(size, shape, colour, rng, text, background, pattern))


def item_pixels(size: int, shape: str, colour: str, rng: np.random.Generator,
                text: str | None = None, background: tuple[int, int, int] = (248, 248, 248),
                pattern: str | None = None) -> np.ndarray:
    """:func:`draw_item`'s picture as a (size, size, 3) uint8 array.

    A printed brand sits on a plain label (the pattern is left out under the text). The
    random margin sets the item's size and the jitter moves it. The item is drawn once per
    (look, margin) in a process and moved by whole pixels, which gives the very pixels that
    drawing it in place gives: every coordinate is a whole number and nothing reaches an edge
    (a brand too wide for a small picture is drawn in place).
    """
    margin = int(size * rng.uniform(0.10, 0.2))
    dx, dy = (int(v) for v in rng.integers(-size // 20, size // 20 + 1, 2))
    text = text[:12] if text else None
    background = tuple(background)
    if text and not _text_clear_of_edges(size, text):
        box = (margin + dx, margin + dy, size - margin + dx, size - margin + dy)
        return _item(size, shape, colour, text, background, pattern, box)
    return _moved(_centred_item(size, shape, colour, text, background, pattern, margin), dx, dy, background)


def _label(box: tuple[int, int, int, int], text: str) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """Where ``text`` is printed on the item in ``box``: the text's corner and its plain label
    (left, top, right, bottom), across the middle of the item, centred."""
    width = int(_FONT.getlength(text))
    x, y = max((box[0] + box[2]) // 2 - width // 2, 1), (box[1] + box[3]) // 2 - 5
    return (x, y), (x - 2, y - 2, x + width + 2, y + 13)


@functools.lru_cache(maxsize=4096)
def _text_clear_of_edges(size: int, text: str) -> bool:
    """Whether the label of ``text``, printed at the centre and moved by up to the jitter, stays off every edge."""
    jitter = size // 20
    left, top, right, bottom = _label((0, 0, size, size), text)[1]
    return left - jitter >= 1 and right + jitter < size and top - jitter >= 0 and bottom + jitter < size


def _moved(arr: np.ndarray, dx: int, dy: int, background: tuple[int, int, int]) -> np.ndarray:
    """``arr`` moved right by ``dx`` and down by ``dy`` pixels, the uncovered edge in ``background``."""
    h, w = arr.shape[:2]
    out = _plain(h, w, background).copy()
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = arr[max(-dy, 0):h - max(dy, 0),
                                                                   max(-dx, 0):w - max(dx, 0)]
    return out


@functools.lru_cache(maxsize=8)
def _plain(h: int, w: int, background: tuple[int, int, int]) -> np.ndarray:
    """A read-only ``h`` x ``w`` picture of ``background`` (filling an array with a colour is slow per call)."""
    arr = np.asarray(Image.new("RGB", (w, h), background)).copy()
    arr.flags.writeable = False
    return arr


@functools.lru_cache(maxsize=1024)
def _centred_item(size: int, shape: str, colour: str, text: str | None, background: tuple[int, int, int],
                  pattern: str | None, margin: int) -> np.ndarray:
    """The item drawn in the box ``margin`` in from every edge (read-only; one per look and margin)."""
    arr = _item(size, shape, colour, text, background, pattern, (margin, margin, size - margin, size - margin))
    arr.flags.writeable = False
    return arr


def _item(size: int, shape: str, colour: str, text: str | None, background: tuple[int, int, int],
          pattern: str | None, box: tuple[int, int, int, int]) -> np.ndarray:
    """The item drawn in ``box``, in its pattern, with ``text`` printed on it, as an array."""
    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    _shape(draw, shape, box, COLOURS[colour])
    ink = pattern_mask(pattern, size, box)
    if text:  # printed across the middle of the item, so it sits on the item
        text_at, (left, top, right, bottom) = _label(box, text)
    if ink is not None:
        silhouette = Image.new("RGB", (size, size), (0, 0, 0))
        _shape(ImageDraw.Draw(silhouette), shape, box, (255, 255, 255))
        ink &= np.asarray(silhouette)[..., 0] > 0
        if text:
            ink[max(top, 0):bottom, max(left, 0):right] = False
        arr = np.asarray(img).copy()
        arr[ink] = _ink(COLOURS[colour])
        img = Image.fromarray(arr)
        draw = ImageDraw.Draw(img)
    if text:
        ink_text = (255, 255, 255) if sum(COLOURS[colour]) < 380 else (10, 10, 10)
        draw.text(text_at, text, fill=ink_text, font=_FONT)
    return np.array(img)


def apply_defect(img: Image.Image, defect: str, rng: np.random.Generator) -> Image.Image:
    """Degrade a photo the way real uploads fail."""
    if defect == "tiny":
        side = int(rng.integers(16, 40))
        return img.resize((side, side), Image.BILINEAR)
    if defect == "blurred":
        return img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(3.0, 5.0))))
    arr = np.asarray(img, dtype=np.float32)
    if defect == "dark":
        arr = arr * rng.uniform(0.05, 0.12)
    elif defect == "bright":
        arr = 255 - (255 - arr) * rng.uniform(0.04, 0.1)
    elif defect == "uniform":
        mean = arr.reshape(-1, 3).mean(axis=0)
        arr = mean + (arr - mean) * 0.03 + rng.normal(0, 0.8, arr.shape)
    else:
        raise ValueError(f"unknown defect {defect!r}; expected one of {DEFECTS}")
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def near_duplicate(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A re-upload of the same photo: small crop, rescale and JPEG noise."""
    w, h = img.size
    dx, dy = (int(v) for v in rng.integers(0, max(w // 12, 1) + 1, 2))
    out = img.crop((dx, dy, w - int(rng.integers(0, max(w // 12, 1) + 1)), h - dy // 2 - 1))
    scale = rng.uniform(0.85, 1.15)
    out = out.resize((max(int(w * scale), 8), max(int(h * scale), 8)), Image.BILINEAR)
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=int(rng.integers(35, 75)))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def save_png(img: Image.Image, path) -> None:
    img.save(path, format="PNG", optimize=False, compress_level=3)
