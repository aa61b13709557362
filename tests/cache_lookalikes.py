"""Look-alike photos for the near-duplicate cache: different items, same background and colour.

Shop photos of thousands of different items share a white studio background and, say, a
black item; a cache that keys on colours alone calls them duplicates. These are drawn
with the generator's own drawing code (``jobs.generate.images``): for each background
and item colour, one photo per distinct item shape, with the same light and camera
noise and no tint, then a re-upload of each (the generator's crop, rescale and JPEG).
Only a re-upload may match, and only its own original.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from jobs.cache.features import image_feature, tolerances
from jobs.cache.index import ImageIndex
from jobs.cache.stage import match
from jobs.generate.images import draw_item, near_duplicate

# The generator's drawings, one per distinct outline (cylinder, tube and lamp are drawn
# alike, as are bolt and cable); shirt and dress, shoe and car differ only in details.
SHAPES = ("bag", "bear", "bolt", "bottle", "box", "car", "chip", "cylinder", "dress", "necklace",
          "ring", "shirt", "shoe", "trousers")
BACKGROUNDS = ((248, 248, 248), (236, 232, 226), (214, 222, 230))
COLOURS = ("black", "red", "blue", "brown", "gold", "grey")


def _shrunk(img: Image.Image, side: int) -> np.ndarray:
    img = img.copy()
    img.thumbnail((side, side))  # as the cache stage reads photos (load_rgb)
    return np.asarray(img)


def lookalike_groups(backgrounds=BACKGROUNDS, colours=COLOURS, shapes=SHAPES, layouts: int = 1,
                     size: int = 96, side: int = 64, seed: int = 0):
    """Per (background, colour): (shape names, originals, re-uploads) as RGB arrays of ``side``.

    ``layouts`` > 1 draws each shape that many times (other margin and offset): those are
    the same outline scaled and shifted, which a re-upload also is.
    """
    rng = np.random.default_rng(seed)
    for background in backgrounds:
        for colour in colours:
            names, originals, reuploads = [], [], []
            for shape in shapes:
                for _ in range(layouts):
                    img = draw_item(size, shape, colour, rng, background=background)
                    arr = np.asarray(img, np.float32) + rng.normal(0, 6, (size, size, 3))
                    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
                    names.append(shape)
                    originals.append(_shrunk(img, side))
                    reuploads.append(_shrunk(near_duplicate(img, rng), side))
            yield names, originals, reuploads


def lookalike_scores(settings, **kwargs) -> dict[str, float]:
    """Run each group through the cache's matching (originals first, then their re-uploads).

    precision: hits that are a re-upload matching its own original, over all hits;
    recall: re-uploads that do; ``other_shape``/``same_shape``: wrong hits between
    different outlines / between drawings of the same outline.
    """
    c = settings.cache
    hits = correct = other_shape = same_shape = reuploads = 0
    for names, originals, ups in lookalike_groups(**kwargs):
        n = len(names)
        vectors = np.stack([image_feature(a, tolerances(c)) for a in originals + ups])
        queries = [{"query_id": f"o{i}"} for i in range(n)] + [{"query_id": f"u{i}"} for i in range(n)]
        for h in match(queries, vectors, ImageIndex("flat"), "2026-W01", c.similarity_threshold, "lookalikes"):
            q, m = h["query_id"], h["matched_query_id"]
            hits += 1
            if q[0] == "u" and m == "o" + q[1:]:
                correct += 1
            elif names[int(q[1:])] != names[int(m[1:])]:
                other_shape += 1
            else:
                same_shape += 1
        reuploads += n
    return {"precision": correct / hits if hits else 1.0, "recall": correct / reuploads, "hits": hits,
            "other_shape": other_shape, "same_shape": same_shape, "reuploads": reuploads}
