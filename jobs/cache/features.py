"""The global image feature of the near-duplicate cache, and its similarity.

Three parts, each divided by its tolerance, so that one L2 distance weighs them:

* colour (6 floats): the colour of the photo's border (the background: light and tint;
  a trimmed mean) and the median colour of the item (pixels far from the border colour). A
  re-upload (crop, rescale, JPEG) keeps both almost exactly; another photo of the same
  product, taken in other light, moves both.
* silhouette (17 floats): the item's foreground mask cut to its bounding box and averaged
  down to 4 × 4 cells (the share of item pixels in each cell), plus the log aspect ratio
  of the box. Cutting to the box makes it indifferent to where the item sits and how
  large the photo is, so crops that leave the item whole and rescales barely move it,
  while a different item on the same background in the same colour (a black shoe and a
  black bag on a white studio background) differs in several cells.
* place (4 floats): the same box relative to the frame (left, top, right, bottom as
  shares of the width and height). Another shopper's photo of the same product frames it
  anew; a re-upload's crop (at most about a twelfth a side) moves it a little. Without
  it, other photos of the same product in a similar light were most of the wrong hits
  once a week's index held a hundred thousand photos.

The similarity is a Gaussian kernel of the distance, ``exp(-d²/2)``: 1 for the same
photo, 0.85 at d = 0.57, with d² = d²(colour) + d²(silhouette) + d²(place). Nearest by
L2 is then exactly most similar, so a plain L2 vector index answers the lookup.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from jobs.common.images import median_colour

FEATURE = "colour+silhouette+place-v3"  # recorded with the persisted index
COLOUR_DIM = 6
SHAPE_CELLS = 4  # the silhouette is SHAPE_CELLS × SHAPE_CELLS cells
SHAPE_DIM = SHAPE_CELLS * SHAPE_CELLS + 1  # cells and the log aspect ratio
PLACE_DIM = 4  # the box's left, top, right, bottom over the frame's width and height
DIM = COLOUR_DIM + SHAPE_DIM + PLACE_DIM
FOREGROUND_DISTANCE = 40.0  # grey levels from the border colour: surely item
MASK_SHARE = 0.5  # silhouette: pixels at least this share of the item's contrast away
MASK_FLOOR = 15.0  # ... and at least this many grey levels (camera noise stays below)
MIN_PIXELS = 9
BORDER_TRIM = 12.0  # grey levels from the border's median: background, not item or noise


def _border_colour(img: np.ndarray) -> np.ndarray:
    """The mean of the border pixels within ``BORDER_TRIM`` levels of their median colour.

    A float, not the median itself: the median of 8-bit levels moves in whole steps, and
    one step on each channel was the whole tolerance of a re-upload at a tolerance of 3.
    """
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    median = np.median(border, axis=0)
    near = np.abs(border - median).max(axis=1) < BORDER_TRIM
    return border[near].mean(axis=0) if near.sum() >= MIN_PIXELS else median


def colour_part(rgb: np.ndarray) -> np.ndarray:
    """Border colour and item colour in grey levels (6 values), of an 8-bit RGB array."""
    img = rgb.astype(np.float32)
    background = _border_colour(img)
    item = np.linalg.norm(img - background, axis=2) > FOREGROUND_DISTANCE
    colour = median_colour(rgb, item) if item.sum() > 8 else background
    return np.concatenate([background, colour])


def silhouette(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the item's mask in its bounding box at 4 × 4 cells (shares 0..1) and log(width/height),
    the box relative to the frame: left, top, right, bottom as shares of width and height).

    The photo is box-blurred (radius 1) first, and the mask threshold follows the item's
    own contrast against the border (``MASK_SHARE`` of its median distance), so a pale item
    or a JPEG'd edge does not break into noise. The box spans the 1st to 99th percentile
    of mask pixels, so a few stray pixels do not stretch it. No item: all zeros (both parts).
    """
    img = np.asarray(Image.fromarray(rgb).filter(ImageFilter.BoxBlur(1)), dtype=np.float32)
    distance = np.linalg.norm(img - _border_colour(img), axis=2)
    sure = distance > FOREGROUND_DISTANCE
    contrast = np.median(distance[sure]) if sure.sum() > 8 else np.percentile(distance, 99)
    mask = distance > max(MASK_SHARE * contrast, MASK_FLOOR)
    ys, xs = np.nonzero(mask)
    if len(ys) < MIN_PIXELS:
        return np.zeros(SHAPE_DIM, np.float32), np.zeros(PLACE_DIM, np.float32)
    y0, y1 = np.percentile(ys, [1, 99])
    x0, x1 = np.percentile(xs, [1, 99])
    y0, x0, y1, x1 = int(y0), int(x0), int(np.ceil(y1)) + 1, int(np.ceil(x1)) + 1
    box = Image.fromarray((mask[y0:y1, x0:x1] * 255).astype(np.uint8))
    cells = np.asarray(box.resize((SHAPE_CELLS, SHAPE_CELLS), Image.BOX), dtype=np.float32).ravel() / 255
    height, width = mask.shape
    place = np.array([x0 / width, y0 / height, x1 / width, y1 / height], np.float32)
    return np.append(cells, np.log((x1 - x0) / (y1 - y0))).astype(np.float32), place


def image_feature(rgb: np.ndarray, tolerances: np.ndarray) -> np.ndarray:
    """Each part over its tolerance (:func:`scales`), float32 (``DIM`` values)."""
    rgb = np.ascontiguousarray(np.asarray(rgb)[..., :3], dtype=np.uint8)
    shape, place = silhouette(rgb)
    return (np.concatenate([colour_part(rgb), shape, place]) / tolerances).astype(np.float32)


def scales(background_scale: float, item_scale: float, shape_scale: float, place_scale: float) -> np.ndarray:
    """The divisor of every dimension of the feature (to rescale stored vectors)."""
    return np.repeat([background_scale, item_scale, shape_scale, place_scale],
                     [3, 3, SHAPE_DIM, PLACE_DIM]).astype(np.float64)


def tolerances(cache) -> np.ndarray:
    """:func:`scales` of the ``cache`` settings section."""
    return scales(cache.background_scale, cache.item_scale, cache.shape_scale, cache.place_scale)


def similarity(squared_distance: np.ndarray | float) -> np.ndarray | float:
    """Gaussian-kernel similarity of two features from their squared L2 distance."""
    return np.exp(-np.asarray(squared_distance, dtype=np.float64) / 2.0)
