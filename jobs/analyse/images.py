"""Reading query and product photos for the analysis: one error per bad file, named.

The sample stage already dropped unreadable query photos, so a missing or corrupt
image here means the logs changed under the run: the run stops with a message that
names the query and the file instead of analysing a blank picture.
"""

from __future__ import annotations

import base64
import io
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from jobs.common.errors import InputError
from jobs.sample.quality import image_location, read_bytes


def load_rgb(logs: Path | str, uri: str, max_side: int, owner: str) -> Image.Image:
    """The image at ``uri`` (relative to the logs folder) as RGB, shrunk to ``max_side``."""
    location = image_location(str(logs), uri)
    try:
        with Image.open(io.BytesIO(read_bytes(location))) as img:
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise InputError(f"{owner}: image file not found: {location}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{owner}: image {location} cannot be decoded ({type(exc).__name__})") from None
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side))
    return rgb


def data_uri(img: Image.Image, max_side: int) -> str:
    """A ``data:`` URI (JPEG) of ``img`` with its longest side at most ``max_side``."""
    img = img.copy()
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


class ImageCache:
    """A bounded LRU of decoded images: products recur across queries, decode them once."""

    def __init__(self, logs: Path | str, max_side: int, capacity: int = 4096):
        self.logs, self.max_side, self.capacity = logs, max_side, capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, uri: str, owner: str) -> np.ndarray:
        if uri in self._items:
            self._items.move_to_end(uri)
            return self._items[uri]
        arr = np.asarray(load_rgb(self.logs, uri, self.max_side, owner))
        self._items[uri] = arr
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return arr
