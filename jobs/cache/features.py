"""The global image feature of the near-duplicate cache, and its similarity.

Two parts, each divided by its tolerance, so that one L2 distance weighs them:

* colour (6 floats): the median colour of the photo's border (the background: light and
  tint) and the median colour of the item (pixels far from the border colour). A
  re-upload (crop, rescale, JPEG) keeps both almost exactly; another photo of the same
  product, taken in other light, moves both.
* silhouette (17 floats): the item's foreground mask cut to its bounding box and averaged
  down to 4 × 4 cells (the share of item pixels in each cell), plus the log aspect ratio
  of the box. Cutting to the box makes it indifferent to where the item sits and how
  large the photo is, so crops that leave the item whole and rescales barely move it,
  while a different item on the same background in the same colour (a black shoe and a
  black bag on a white studio background) differs in several cells.

The similarity is a Gaussian kernel of the distance, ``exp(-d²/2)``: 1 for the same
photo, 0.85 at d = 0.57, with d² = d²(colour) + d²(silhouette). Nearest by L2 is then
exactly most similar, so a plain L2 vector index answers the lookup.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

FEATURE = "colour+silhouette-v2"  # recorded with the persisted index
COLOUR_DIM = 6
SHAPE_CELLS = 4  # the silhouette is SHAPE_CELLS × SHAPE_CELLS cells
SHAPE_DIM = SHAPE_CELLS * SHAPE_CELLS + 1  # cells and the log aspect ratio
DIM = COLOUR_DIM + SHAPE_DIM
FOREGROUND_DISTANCE = 40.0  # grey levels from the border colour: surely item
MASK_SHARE = 0.5  # silhouette: pixels at least this share of the item's contrast away
MASK_FLOOR = 15.0  # ... and at least this many grey levels (camera noise stays below)
MIN_PIXELS = 9


def _border_colour(img: np.ndarray) -> np.ndarray:
    return np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]), axis=0)


def colour_part(img: np.ndarray) -> np.ndarray:
    """Border colour and item colour in grey levels (6 values), of a float RGB array."""
    background = _border_colour(img)
    item = np.linalg.norm(img - background, axis=2) > FOREGROUND_DISTANCE
    colour = np.median(img[item], axis=0) if item.sum() > 8 else background
    return np.concatenate([background, colour])


def silhouette(rgb: np.ndarray) -> np.ndarray:
    """The item's mask in its bounding box at 4 × 4 cells (shares 0..1) and log(width/height).

    The photo is box-blurred (radius 1) first, and the mask threshold follows the item's
    own contrast against the border (``MASK_SHARE`` of its median distance), so a pale item
    or a JPEG'd edge does not break into noise. The box spans the 1st to 99th percentile
    of mask pixels, so a few stray pixels do not stretch it. No item: all zeros.
    """
    img = np.asarray(Image.fromarray(rgb).filter(ImageFilter.BoxBlur(1)), dtype=np.float32)
    distance = np.linalg.norm(img - _border_colour(img), axis=2)
    sure = distance > FOREGROUND_DISTANCE
    contrast = np.median(distance[sure]) if sure.sum() > 8 else np.percentile(distance, 99)
    mask = distance > max(MASK_SHARE * contrast, MASK_FLOOR)
    ys, xs = np.nonzero(mask)
    if len(ys) < MIN_PIXELS:
        return np.zeros(SHAPE_DIM, np.float32)
    y0, y1 = np.percentile(ys, [1, 99])
    x0, x1 = np.percentile(xs, [1, 99])
    y0, x0, y1, x1 = int(y0), int(x0), int(np.ceil(y1)) + 1, int(np.ceil(x1)) + 1
    box = Image.fromarray((mask[y0:y1, x0:x1] * 255).astype(np.uint8))
    cells = np.asarray(box.resize((SHAPE_CELLS, SHAPE_CELLS), Image.BOX), dtype=np.float32).ravel() / 255
    return np.append(cells, np.log((x1 - x0) / (y1 - y0))).astype(np.float32)


def image_feature(rgb: np.ndarray, background_scale: float, item_scale: float,
                  shape_scale: float) -> np.ndarray:
    """Colour / tolerances and silhouette / ``shape_scale``, float32 (``DIM`` values)."""
    rgb = np.ascontiguousarray(np.asarray(rgb)[..., :3], dtype=np.uint8)
    colour = colour_part(rgb.astype(np.float32))
    return np.concatenate([colour[:3] / background_scale, colour[3:] / item_scale,
                           silhouette(rgb) / shape_scale]).astype(np.float32)


def scales(background_scale: float, item_scale: float, shape_scale: float) -> np.ndarray:
    """The divisor of every dimension of the feature (to rescale stored vectors)."""
    return np.repeat([background_scale, item_scale, shape_scale], [3, 3, SHAPE_DIM]).astype(np.float64)


def similarity(squared_distance: np.ndarray | float) -> np.ndarray | float:
    """Gaussian-kernel similarity of two features from their squared L2 distance."""
    return np.exp(-np.asarray(squared_distance, dtype=np.float64) / 2.0)
