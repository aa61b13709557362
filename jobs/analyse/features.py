"""Features the expert rules read: from the photos' pixels and the products' metadata.

Pixels: the dominant colour of the photographed item (pixels that differ from the
border colour, named by the nearest reference colour of the rules file) in the query
and in every product photo; blur (variance of the Laplacian), brightness and
contrast of the query, and the pattern printed on the item (:func:`photo_pattern`). Metadata: price quantiles and spread, where the prices sit
against the usual price of their kind, category entropy, agreement of brand, spec
model and pattern, similarity statistics, and the density of spec fields.
All are plain numbers or strings in one dict, so rules and prompts read one shape.
"""

from __future__ import annotations

import base64
import math
from collections import Counter

import numpy as np

from jobs.analyse.ocr import MIN_INK, NONE, brand_in_ink, ink_mask
from jobs.common.images import grey_scores

SPEC_FIELDS = ("spec_model", "spec_size", "package_size", "material")
FOREGROUND_DISTANCE = 40.0  # RGB distance from the border colour that marks the item
PATTERN_INK = 25.0  # grey levels from the item's own grey that mark a pattern's ink
PATTERN_ITEM_DISTANCE = 24.0  # finer item mask for the pattern (the erosion drops stray noise pixels)
UNKNOWN = "unknown"
FEATURES_VERSION = 3  # bump when a query-photo feature changes (keys the cache of them)


class Palette:
    """Named reference colours; names an array of pixels by majority of nearest colours."""

    def __init__(self, colours: dict[str, list[int]]):
        self.names = list(colours)
        self.rgb = np.asarray([colours[n] for n in self.names], dtype=np.float32)

    def dominant(self, rgb: np.ndarray, foreground: np.ndarray | None = None) -> tuple[str, float]:
        """(name of the item's dominant colour, share of the image the item covers); ``foreground``:
        :func:`foreground_mask` of ``rgb`` when the caller has it."""
        img = rgb.astype(np.float32)
        if foreground is None:
            foreground = foreground_mask(rgb)
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


def border_distance(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's RGB distance from the border colour (the median of the border pixels), float32:
    the one measure the item masks of the colour, the pattern and the ink are cut from."""
    img = rgb.astype(np.float32)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    return np.linalg.norm(img - np.median(border, axis=0), axis=2)


def foreground_mask(rgb: np.ndarray, distance: float = FOREGROUND_DISTANCE) -> np.ndarray:
    """Pixels that differ from the border colour by more than ``distance``: the photographed item."""
    return border_distance(rgb) > distance


def printed_brand(query: np.ndarray, brands: tuple[str, ...]) -> str:
    """The brand printed on the photographed item, among ``brands`` (:func:`jobs.analyse.ocr.read_brand`)."""
    return brand_in_ink(ink_mask(query, foreground_mask(query)), brands) if brands else NONE


def packed_ink(ink: np.ndarray) -> dict:
    """The ink mask as row values (the query-photo table's ``ink_rows``, ``ink_cols``, ``ink``):
    its bits packed, in base64 text (so JSON, Arrow and pickle all carry it unchanged, as the
    Spark path's JSON rows need), or none when too little ink to print a word."""
    bits = base64.b64encode(np.packbits(ink).tobytes()).decode("ascii") if ink.sum() >= MIN_INK else None
    return {"ink_rows": int(ink.shape[0]), "ink_cols": int(ink.shape[1]), "ink": bits}


def unpacked_ink(row: dict) -> np.ndarray:
    """:func:`packed_ink`'s mask again (all clear when it kept no bits)."""
    shape = (row["ink_rows"], row["ink_cols"])
    if row["ink"] is None:
        return np.zeros(shape, bool)
    bits = np.frombuffer(base64.b64decode(row["ink"]), np.uint8)
    return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)


def photo_pattern(rgb: np.ndarray, distance: np.ndarray | None = None, lum: np.ndarray | None = None) -> str:
    """The pattern on the photographed item: plain, striped, checked, floral or logo print.

    Read from the middle of the item (rows 35–90 % and columns 20–80 % of its bounding
    box, clear of necks, sleeves and outlines): ink is what differs from the item's
    median grey by more than ``PATTERN_INK``. Rows (or columns) almost fully inked mean
    stripes (rows only) or checks (both); otherwise the ink that survives a 3×3 opening
    (so thin printed text does not count) is floral when it forms several dots, a logo
    print when one or a few blobs, plain when there is next to none. ``unknown`` when
    too little of the item is visible to tell. ``distance`` (:func:`border_distance`) and ``lum``
    (:func:`grey`) of ``rgb``, when the caller has them.
    """
    from scipy import ndimage

    distance = border_distance(rgb) if distance is None else distance
    mask = ndimage.binary_erosion(distance > PATTERN_ITEM_DISTANCE, iterations=2)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) < 12 or len(cols) < 12:
        return UNKNOWN
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    window = (slice(rows[0] + int(0.35 * h), rows[0] + int(0.9 * h)), slice(cols[0] + int(0.2 * w), cols[0] + int(0.8 * w)))
    inside, lum = mask[window], (grey(rgb) if lum is None else lum)[window]
    if inside.sum() < 60:
        return UNKNOWN
    ink = inside & (np.abs(lum - np.median(lum[inside])) > PATTERN_INK)
    per_row, per_col = inside.sum(axis=1), inside.sum(axis=0)
    full_rows = np.mean((ink.sum(axis=1) > 0.7 * per_row)[per_row >= 6]) if (per_row >= 6).any() else 0.0
    full_cols = np.mean((ink.sum(axis=0) > 0.7 * per_col)[per_col >= 6]) if (per_col >= 6).any() else 0.0
    if full_rows >= 0.04 and full_cols >= 0.04:
        return "checked"
    if full_rows >= 0.08:
        return "striped"
    blobs = ndimage.binary_opening(ink, np.ones((3, 3), bool))
    if blobs.sum() < 0.02 * inside.sum():
        return "plain"
    _, n = ndimage.label(blobs)
    return "floral" if n >= 3 else "logo print"


def query_photo_features(query: np.ndarray, palette: Palette, distance: np.ndarray | None = None) -> dict:
    """Pixel features of the query photo alone (computed once per photo); ``distance``: its
    :func:`border_distance` when the caller has it.

    The quality thresholds are the sample stage's defaults: photos worse than those
    were filtered before analysis, so only a photo at the edge is named a problem.
    """
    distance = border_distance(query) if distance is None else distance
    lum = grey(query)
    blur, brightness, contrast = grey_scores(lum)
    colour, share = palette.dominant(query, distance > FOREGROUND_DISTANCE)
    problem = ("blurred" if blur < 20 else "too dark" if brightness < 40 else
               "too bright" if brightness > 240 else "low contrast" if contrast < 4 else "none")
    return {"blur": round(blur, 1), "brightness": round(brightness, 1), "contrast": round(contrast, 1),
            "query_colour": colour, "query_colour_share": round(share, 3), "photo_problem": problem,
            "photo_pattern": photo_pattern(query, distance, lum)}


def query_photo_row(query: np.ndarray, palette: Palette) -> dict:
    """:func:`query_photo_features` and the :func:`packed_ink` the printed brand is read from,
    from one :func:`border_distance`: the row the cache stage hands the analyst (and the
    analyst's own when it decodes the photo itself)."""
    distance = border_distance(query)
    ink = ink_mask(query, distance > FOREGROUND_DISTANCE, distance)
    return {**query_photo_features(query, palette, distance), **packed_ink(ink)}


def query_features_key(palette: Palette, side: int) -> str:
    """What the query-photo features depend on besides the pixels: the palette and the size."""
    import hashlib
    import json

    text = json.dumps([palette.names, palette.rgb.tolist(), side, FEATURES_VERSION])
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
            "photo_problem": query["photo_problem"], "photo_pattern": query.get("photo_pattern", UNKNOWN)}


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
           # the upper quartile against the usual price of the kind; unknown (None) when the
           # week gave no usual price for it (the results would only be measured against themselves)
           "price_p75_position": (round(float(p75 / known), 3) if (known := (reference_prices or {}).get(subcategory))
                                  else None),
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


def _share_matching(products: list[dict], field: str, value: str, missing: str | None = None) -> float:
    """Share of the results whose metadata ``field`` (``missing`` when absent) equals ``value``."""
    return round(sum(((p.get("metadata") or {}).get(field) or missing) == value for p in products) / len(products), 3)


def brand_match(products: list[dict], printed: str) -> float:
    """Share of the results whose brand is the one printed on the photo (1.0 when none is read)."""
    return 1.0 if printed == NONE or not products else _share_matching(products, "brand", printed)


def pattern_match(products: list[dict], pattern: str) -> float:
    """Share of the results whose pattern is the one on the photo (1.0 when it cannot be told)."""
    return 1.0 if pattern == UNKNOWN or not products else _share_matching(products, "pattern", pattern, "plain")


class WeekReferences:
    """What the analyst reads from the whole week, gathered from sample rows or Arrow tables: the
    usual prices (median retrieved price per subcategory), the brand names per main category
    and the distinct product photos, first seen first (one owner for all three)."""

    def __init__(self, samples: list[dict] = ()):
        self.samples = 0
        self._prices: dict[str, list[float]] = {}
        self._brands: dict[str, set[str]] = {}
        self._photos: dict[str, str] = {}
        self.add(samples)

    def add(self, samples: list[dict]) -> None:
        self.samples += len(samples)
        products = [(p, p.get("metadata") or {}) for s in samples for p in s["products"]]
        self._add_products([p["price"] for p, _ in products], [p["image_uri"] for p, _ in products],
                           [p["product_id"] for p, _ in products],
                           *([m.get(f) for _, m in products] for f in ("subcategory", "brand", "main_category")))

    def add_table(self, table) -> None:
        """:meth:`add` for a ``samples`` Arrow table, read column by column (no Python rows)."""
        import pyarrow.compute as pc

        self.samples += table.num_rows
        items = pc.list_flatten(table.column("products"))
        meta = pc.struct_field(items, "metadata")
        self._add_products(*(pc.struct_field(items, f).to_pylist() for f in ("price", "image_uri", "product_id")),
                           *(pc.map_lookup(meta, f, "last").to_pylist()  # a dict keeps a repeated key's last value
                             for f in ("subcategory", "brand", "main_category")))

    def _add_products(self, prices, uris, ids, subcategories, brands, categories) -> None:
        """One retrieved product per position of the columns, in the week's order."""
        for price, uri, product_id, subcategory, brand, category in zip(prices, uris, ids, subcategories, brands,
                                                                         categories):
            if subcategory:
                self._prices.setdefault(subcategory, []).append(price)
            if brand and category:
                self._brands.setdefault(category, set()).add(brand)
            self._photos.setdefault(uri, product_id)

    def prices(self) -> dict[str, float]:
        return {k: float(np.median(v)) for k, v in self._prices.items()}

    def brands(self) -> dict[str, tuple[str, ...]]:
        return {k: tuple(sorted(v)) for k, v in self._brands.items()}

    def product_photos(self) -> list[dict]:
        return [{"image_uri": u, "product_id": pid} for u, pid in self._photos.items()]


def brand_vocabulary(samples: list[dict]) -> dict[str, tuple[str, ...]]:
    """Brand names the week's retrieved products carry, per main category (what a photo may print)."""
    return WeekReferences(samples).brands()


def reference_prices(samples: list[dict]) -> dict[str, float]:
    """Median retrieved price per subcategory over a batch of samples (the usual price)."""
    return WeekReferences(samples).prices()
