"""Features the expert rules read: from the photos' pixels and the products' metadata.

Pixels: the dominant colour of the photographed item (pixels that differ from the
border colour, named by the nearest reference colour of the rules file) in the query
and in every product photo; blur (variance of the Laplacian), brightness and
contrast of the query. Metadata: price quantiles and spread, where the prices sit
against the usual price of their kind, category entropy, agreement of brand, spec
model and pattern, similarity statistics, and the density of spec fields.
All are plain numbers or strings in one dict, so rules and prompts read one shape.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from jobs.analyse.ocr import NONE, read_brand
from jobs.common.images import grey_scores

SPEC_FIELDS = ("spec_model", "spec_size", "package_size", "material")
FOREGROUND_DISTANCE = 40.0  # RGB distance from the border colour that marks the item


class Palette:
    """Named reference colours; names an array of pixels by majority of nearest colours."""

    def __init__(self, colours: dict[str, list[int]]):
        self.names = list(colours)
        self.rgb = np.asarray([colours[n] for n in self.names], dtype=np.float32)

    def dominant(self, rgb: np.ndarray) -> tuple[str, float]:
        """(name of the item's dominant colour, share of the image the item covers)."""
        img = rgb.astype(np.float32)
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        background = np.median(border, axis=0)
        foreground = np.linalg.norm(img - background, axis=2) > FOREGROUND_DISTANCE
        share = float(foreground.mean())
        pixels = img[foreground] if foreground.sum() >= 16 else img.reshape(-1, 3)
        return self.names[int(np.bincount(self.nearest(pixels), minlength=len(self.names)).argmax())], share

    def nearest(self, pixels: np.ndarray) -> np.ndarray:
        """Index of the nearest reference colour of each pixel (whole grey levels, float32).

        ``|p|² - 2 p·c + |c|²`` by one matrix product instead of an (n, colours, 3) array:
        every term is a whole number below 2**24, so float32 holds it exactly and the
        argmin (first index on ties) is the same as the direct squared distance.
        """
        if not (np.array_equal(pixels, np.round(pixels)) and np.array_equal(self.rgb, np.round(self.rgb))):
            return ((pixels[:, None, :] - self.rgb[None]) ** 2).sum(-1).argmin(1)
        cross = pixels @ (-2.0 * self.rgb.T)
        return (cross + (self.rgb ** 2).sum(1)[None]).argmin(1)  # |p|² is the same for every colour


def rules_palette(settings) -> Palette:
    """The palette of the configured expert rules (``models.rules_file``, else the packaged rules)."""
    from jobs.analyse.expert_rules import load_rules

    return Palette(load_rules(settings.models.rules_file or None).colour_names)


def grey(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def foreground_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels that differ from the border colour: the photographed item."""
    img = rgb.astype(np.float32)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    return np.linalg.norm(img - np.median(border, axis=0), axis=2) > FOREGROUND_DISTANCE


def printed_brand(query: np.ndarray, brands: tuple[str, ...]) -> str:
    """The brand printed on the photographed item, among ``brands`` (:func:`jobs.analyse.ocr.read_brand`)."""
    return read_brand(query, foreground_mask(query), brands) if brands else NONE


def query_photo_features(query: np.ndarray, palette: Palette) -> dict:
    """Pixel features of the query photo alone (computed once per photo)."""
    blur, brightness, contrast = grey_scores(grey(query))
    colour, share = palette.dominant(query)
    problem = ("blurred" if blur < 25 else "too dark" if brightness < 45 else
               "too bright" if brightness > 235 else "low contrast" if contrast < 8 else "none")
    return {"blur": round(blur, 1), "brightness": round(brightness, 1), "contrast": round(contrast, 1),
            "query_colour": colour, "query_colour_share": round(share, 3), "photo_problem": problem}


def query_features_key(palette: Palette, side: int) -> str:
    """What the query-photo features depend on besides the pixels: the palette and the size."""
    import hashlib
    import json

    text = json.dumps([palette.names, palette.rgb.tolist(), side])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def product_colour(photo: np.ndarray, palette: Palette) -> str:
    """The dominant colour of one product photo (computed once per product)."""
    return palette.dominant(photo)[0]


def join_photo_features(query: dict, product_colours: list[str]) -> dict:
    """A query's pixel features from its photo's features and its products' colours."""
    colour = query["query_colour"]
    agreement = (sum(c == colour for c in product_colours) / len(product_colours)) if product_colours else 1.0
    return {"blur": query["blur"], "brightness": query["brightness"], "contrast": query["contrast"],
            "query_colour": colour, "query_colour_share": query["query_colour_share"],
            "colour_agreement": round(agreement, 3),
            "product_colour": Counter(product_colours).most_common(1)[0][0] if product_colours else "none",
            "photo_problem": query["photo_problem"]}


def photo_features(query: np.ndarray, products: list[np.ndarray], palette: Palette,
                   brands: tuple[str, ...] = ()) -> dict:
    """Pixel features of the query photo against its retrieved products' photos (and the
    brand printed on it, among ``brands``)."""
    return {**join_photo_features(query_photo_features(query, palette),
                                  [product_colour(p, palette) for p in products]),
            "photo_brand": printed_brand(query, brands)}


def _agreement(values: list[str | None]) -> tuple[float, float, str]:
    """(share of products that fill the field, share of the most common value, that value)."""
    filled = [v for v in values if v]
    if not filled:
        return 0.0, 1.0, "none"
    top, count = Counter(filled).most_common(1)[0]
    return len(filled) / len(values), count / len(filled), top


def entropy_bits(values: list[str]) -> float:
    counts = np.array(list(Counter(values).values()), dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum()) if len(p) > 1 else 0.0


def metadata_features(products: list[dict], main_category: str,
                      reference_prices: dict[str, float] | None = None) -> dict:
    """Metadata features of the retrieved products (``RetrievedProduct`` dicts).

    ``reference_prices`` maps a subcategory to its usual (median) price, measured over
    the week's retrievals; without it the results are their own reference.
    """
    meta = [p.get("metadata") or {} for p in products]
    prices = np.array([p["price"] for p in products], dtype=np.float64) if products else np.array([1.0])
    sims = np.array([p["similarity"] for p in products], dtype=np.float64) if products else np.array([0.0])
    p10, p25, p50, p75, p90 = np.quantile(prices, [0.1, 0.25, 0.5, 0.75, 0.9])
    _, _, subcategory = _agreement([m.get("subcategory") for m in meta])
    reference = (reference_prices or {}).get(subcategory, p50)
    out = {"main_category": main_category, "subcategory": subcategory, "n_products": len(products),
           "price_median": round(float(p50), 2), "price_p25": round(float(p25), 2),
           "price_p75": round(float(p75), 2),
           "price_spread": round(math.log(max(p90, 1e-6) / max(p10, 1e-6)), 3),
           "price_position": round(float(p50 / reference) if reference > 0 else 1.0, 3),
           "category_entropy": round(entropy_bits([m.get("main_category", "?") for m in meta]), 3) if meta else 0.0,
           "similarity_top": round(float(sims.max()), 3), "similarity_mean": round(float(sims.mean()), 3),
           "similarity_std": round(float(sims.std()), 3),
           "spec_density": round(float(np.mean([sum(bool(m.get(f)) for f in SPEC_FIELDS) / len(SPEC_FIELDS)
                                                for m in meta])) if meta else 0.0, 3)}
    for field, name in (("brand", "brand"), ("spec_model", "spec"), ("pattern", "pattern"),
                        ("material", "material")):
        fill, agreement, top = _agreement([m.get(field) for m in meta]) if meta else (0.0, 1.0, "none")
        out[f"{name}_fill"], out[f"{name}_agreement"], out[f"top_{name}"] = round(fill, 3), round(agreement, 3), top
    return out


def brand_match(products: list[dict], printed: str) -> float:
    """Share of the results whose brand is the one printed on the photo (1.0 when none is read)."""
    if printed == NONE or not products:
        return 1.0
    return round(sum((p.get("metadata") or {}).get("brand") == printed for p in products) / len(products), 3)


def brand_vocabulary(samples: list[dict]) -> dict[str, tuple[str, ...]]:
    """Brand names the week's retrieved products carry, per main category (what a photo may print)."""
    by_cat: dict[str, set[str]] = {}
    for s in samples:
        for p in s["products"]:
            meta = p.get("metadata") or {}
            if meta.get("brand") and meta.get("main_category"):
                by_cat.setdefault(meta["main_category"], set()).add(meta["brand"])
    return {k: tuple(sorted(v)) for k, v in by_cat.items()}


def reference_prices(samples: list[dict]) -> dict[str, float]:
    """Median retrieved price per subcategory over a batch of samples (the usual price)."""
    by_sub: dict[str, list[float]] = {}
    for s in samples:
        for p in s["products"]:
            sub = (p.get("metadata") or {}).get("subcategory")
            if sub:
                by_sub.setdefault(sub, []).append(p["price"])
    return {k: float(np.median(v)) for k, v in by_sub.items()}
