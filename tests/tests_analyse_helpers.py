"""Drawn photos and made-up products for the analysis tests."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from jobs.analyse.expert_rules import load_rules
from jobs.analyse.features import Palette, metadata_features, pattern_match, photo_features

RULES = load_rules()
PALETTE = Palette(RULES.colour_names)


def drawn(colour: str, size: int = 64, background=(246, 246, 240), noise: float = 3.0, seed: int = 0) -> np.ndarray:
    """A square item of a named rules colour on a light background, with camera noise."""
    img = Image.new("RGB", (size, size), background)
    ImageDraw.Draw(img).rectangle((14, 12, 50, 52), fill=tuple(RULES.colour_names[colour]))
    arr = np.asarray(img, dtype=np.float32) + np.random.default_rng(seed).normal(0, noise, (size, size, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def product(i: int, price: float = 100.0, sim: float = 0.9, **meta) -> dict:
    base = {"main_category": "apparel", "subcategory": "t-shirt", "brand": "Zara", "colour": "red",
            "spec_model": None, "pattern": "plain", "material": "cotton"}
    base.update(meta)
    return {"rank": i + 1, "product_id": f"p{i}", "similarity": sim, "title": "t", "price": price,
            "image_uri": f"p{i}.png", "metadata": {k: v for k, v in base.items() if v is not None}}


def features(query=None, products=None, items=None, category="apparel", references=None) -> dict:
    query = drawn("red") if query is None else query
    products = [drawn("red", seed=i) for i in range(6)] if products is None else products
    items = [product(i) for i in range(6)] if items is None else items
    photo = photo_features(query, products, PALETTE)
    return {**photo, "photo_pattern_match": pattern_match(items, photo["photo_pattern"]),
            **metadata_features(items, category, references)}
