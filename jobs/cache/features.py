"""The global image feature of the near-duplicate cache, and its similarity.

A re-upload of a photo (crop, rescale, JPEG) keeps the photo's light and tint, so the
colour of its border (the background) and the median colour of its item survive
almost exactly, while another photo of the same product differs in both. Shape
thumbnails, by contrast, move with every crop and made look-alike products collide
(measured on generated logs: docs/cache.md). The feature is those two colours
divided by their tolerances, and the similarity a Gaussian kernel of their distance,
``exp(-d²/2)``: 1 for the same photo, 0.85 at d = 0.57. Nearest by L2 is then
exactly most similar, so a plain L2 vector index answers the lookup.
"""

from __future__ import annotations

import numpy as np

DIM = 6
FOREGROUND_DISTANCE = 40.0


def colour_feature(rgb: np.ndarray, background_scale: float, item_scale: float) -> np.ndarray:
    """Border colour / background_scale and item colour / item_scale, float32 (6 values)."""
    img = np.asarray(rgb, dtype=np.float32)[..., :3]
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    background = np.median(border, axis=0)
    item = np.linalg.norm(img - background, axis=2) > FOREGROUND_DISTANCE
    colour = np.median(img[item], axis=0) if item.sum() > 8 else background
    return np.concatenate([background / background_scale, colour / item_scale]).astype(np.float32)


def similarity(squared_distance: np.ndarray | float) -> np.ndarray | float:
    """Gaussian-kernel similarity of two features from their squared L2 distance."""
    return np.exp(-np.asarray(squared_distance, dtype=np.float64) / 2.0)
