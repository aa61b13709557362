"""Image I/O for every stage that reads photos (sample, cache, analyse): one place.

- :func:`image_location` and :func:`read_bytes`: where a log's ``image_uri`` points
  (relative to the logs folder, or a URI with a scheme read through ``pyarrow.fs``);
- :func:`load_rgb`: decode to RGB, shrunk; a missing or corrupt file is an
  :class:`InputError` naming its owner (the query or product) and the file. The sample
  stage already dropped unreadable query photos, so here it means the logs changed
  under the run, and the run stops instead of analysing a blank picture;
- :func:`grey_scores`: the pixel measures of image quality; :func:`data_uri` for prompts;
- :class:`ImageCache`: decoded images by URI, bounded, so recurring products decode once.
"""

from __future__ import annotations

import base64
import io
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import InputError


def image_location(logs_root: str, image_uri: str) -> str:
    """Where to read an image: URIs with a scheme as they are, others under the logs folder."""
    if "://" in image_uri:
        return image_uri
    return f"{logs_root.rstrip('/')}/{image_uri.lstrip('/')}"


def read_bytes(location: str) -> bytes:
    if "://" in location and not location.startswith("file://"):
        from pyarrow import fs

        filesystem, path = fs.FileSystem.from_uri(location)
        with filesystem.open_input_file(path) as handle:
            return handle.read()
    with open(location.removeprefix("file://"), "rb") as handle:
        return handle.read()


def grey_scores(grey: np.ndarray) -> tuple[float, float, float]:
    """(variance of the Laplacian, mean, standard deviation) of a 2-D grey image."""
    grey = grey.astype(np.float32)
    if min(grey.shape) < 3:
        laplacian_var = 0.0
    else:
        laplacian = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
                     - 4.0 * grey[1:-1, 1:-1])
        laplacian_var = float(laplacian.var())
    return laplacian_var, float(grey.mean()), float(grey.std())


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
