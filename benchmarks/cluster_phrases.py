"""A realistic generator of visual-search actions, and the hand-written ontology for it.

Each intent has several verbs, objects and the kind of Info it needs; a phrase
combines them in one of several surface forms (``verb object -> info``,
``verb object: info``, ``verb info object``, with or without an index marker,
a filler word or a politeness frame, in varying case), and about 3 % are
Chinese. Distinct strings are drawn first, then rows repeat them with a
Zipf-like popularity, as a week of reasoning output does.
"""

from __future__ import annotations

import numpy as np

COLOURS = "black white red navy beige olive burgundy pink grey brown khaki teal cream mustard lilac".split()
BRANDS = "Blendy Nike Adidas Uniqlo Zara Muji Sony Apple Lego Loreal Nescafe Xiaomi Huawei Dyson".split()
MATERIALS = "cotton linen silk wool leather denim polyester cashmere suede bamboo canvas nylon".split()
PATTERNS = "striped floral plaid polka-dot checked solid camouflage paisley geometric animal-print".split()
SIZES = "XS S M L XL XXL 36 38 40 42 44 small medium large extra-large".split()
CATEGORIES = ("dress sneakers handbag coffee jacket headphones phone-case toy lipstick sofa lamp "
              "backpack watch sunglasses kettle").split()
BANDS = ["low", "mid", "high", "under 100 yuan", "100-300 yuan", "above 500 yuan", "budget", "premium"]
SPECS = ["64GB", "128GB", "500ml", "1L", "20 pack", "A4", "USB-C", "5000mAh", "king size", "size 7"]

# intent: (main, sub, verbs, objects, infos)
INTENTS = {
    "colour": ("condition", "colour", ["refine", "narrow", "filter", "restrict", "constrain"],
               ["search condition", "colour condition", "results by colour", "colour filter", "colour"], COLOURS),
    "material": ("condition", "material", ["refine", "filter", "add", "narrow", "restrict"],
                 ["material condition", "results by material", "fabric filter", "material"], MATERIALS),
    "pattern": ("condition", "pattern", ["refine", "add", "filter", "match"],
                ["pattern condition", "style filter", "results by pattern", "print"], PATTERNS),
    "size": ("condition", "size", ["add", "filter", "refine", "show"],
             ["size condition", "size filter", "results by size", "available sizes"], SIZES),
    "brand_ocr": ("brand", "ocr", ["recognise", "read", "extract", "use", "match"],
                  ["brand text", "OCR text", "logo text", "brand name on the photo", "label text"], BRANDS),
    "brand_filter": ("brand", "filter", ["add", "apply", "filter by", "restrict to", "prefer"],
                     ["brand filter", "brand condition", "official store of the brand", "brand"], BRANDS),
    "price_band": ("price", "band", ["segment", "split", "group", "divide", "bucket"],
                   ["price range", "results by price band", "price tiers", "prices into bands"], BANDS),
    "price_highend": ("price", "high-end", ["add", "include", "surface", "mix in", "supplement"],
                      ["high-end alternatives", "premium options", "similar luxury items", "pricier matches"],
                      BANDS),
    "category": ("category", "clarify", ["clarify", "confirm", "correct", "fix", "detect"],
                 ["product category", "intended category", "category of the item", "item type"], CATEGORIES),
    "category_group": ("category", "group", ["group", "cluster", "organise", "separate"],
                       ["results by category", "results into categories", "mixed categories"], CATEGORIES),
    "spec": ("spec", "spec", ["match", "filter by", "compare", "check", "align"],
             ["specification", "spec model", "capacity", "package size", "spec fields"], SPECS),
    "photo": ("photo", "retake", ["ask for", "request", "prompt for", "suggest"],
              ["a clearer photo", "a sharper photo", "a closer shot", "another angle", "better lighting"],
              ["blurred", "too dark", "too small", "overexposed", "cropped"]),
    "rerank": ("ranking", "visual", ["re-rank", "rerank", "reorder", "sort"],
               ["results by visual similarity", "candidates visually", "results by shape", "by appearance"],
               CATEGORIES),
    "widen": ("ranking", "widen", ["widen", "expand", "broaden", "enlarge"],
              ["the candidate search", "the recall set", "retrieval pool", "candidate set"], CATEGORIES),
    "info": ("info", "product info", ["show", "display", "surface", "provide"],
             ["product information", "usage instructions", "dosage and usage", "ingredient list"], CATEGORIES),
}
CHINESE = {
    "colour": ["把颜色改为{}", "按颜色筛选{}", "增加颜色条件{}"],
    "brand_ocr": ["识别品牌文字{}", "提取商标文字{}"],
    "price_band": ["按价格区间分段{}", "划分价格档位{}"],
    "category": ["确认商品类目{}", "修正类目{}"],
}
FORMS = ["{v} {o} -> {i}", "{v} {o}: {i}", "{v} {o} ({i})", "{v} {o} to {i}", "{v} {i} {o}",
         "{v} the {o} -> {i}", "{v} {o}, {i}", "{v} {o} = {i}"]
MARKERS = ["", "", "", "1. ", "2. ", "3) ", "(1) ", "(2) ", "① ", "② "]
FRAMES = ["{}", "{}", "{}", "please {}", "suggest: {}", "{} for the shopper", "{} if possible", "try to {}"]
MODIFIERS = ["for women", "for men", "for kids", "in stock", "with free shipping", "from the same shop",
             "near the query style", "than the current results", "on the first page", "for this query",
             "among top results", "with good ratings", "from flagship stores", "in the same series"]


def _phrase(rng: np.random.Generator, intent: str) -> str:
    _, _, verbs, objects, infos = INTENTS[intent]
    if intent in CHINESE and rng.random() < 0.15:
        text = str(rng.choice(CHINESE[intent])).format(rng.choice(infos))
    else:
        info = str(rng.choice(infos))
        if rng.random() < 0.35:
            info += str(rng.choice([" and ", " or ", ", "])) + str(rng.choice(infos))
        if rng.random() < 0.4:
            info += " " + str(rng.choice(MODIFIERS))
        text = str(rng.choice(FORMS)).format(v=rng.choice(verbs), o=rng.choice(objects), i=info)
        text = str(rng.choice(FRAMES)).format(text)
        if rng.random() < 0.3:
            text = text[0].upper() + text[1:]
        if rng.random() < 0.2:
            text += str(rng.choice([" first", " again", " as well", " too", " instead", " now"]))
    return str(rng.choice(MARKERS)) + text


def distinct_phrases(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` phrases, distinct even after cleaning, and their intents (unequal popularity).

    Distinct after cleaning, so that deduplicating cleaned texts saves nothing
    the benchmark did not ask for: every one of the ``n`` strings is embedded.
    """
    from clustering.tokens import clean_action

    rng = np.random.default_rng(seed)
    intents = list(INTENTS)
    popularity = 1.0 / np.arange(1, len(intents) + 1) ** 0.7
    popularity /= popularity.sum()
    seen: dict[str, tuple[str, str]] = {}
    while len(seen) < n:
        for intent in rng.choice(intents, size=min(2 * (n - len(seen)) + 16, 200_000), p=popularity):
            text = _phrase(rng, str(intent))
            seen.setdefault(clean_action(text), (text, str(intent)))
            if len(seen) == n:
                break
    return [t for t, _ in seen.values()], [i for _, i in seen.values()]


def action_rows(n_rows: int, n_distinct: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """``n_rows`` rows over ``n_distinct`` phrases (each at least once, then Zipf-like repeats).

    Returns the rows, the index of each row's phrase, and the phrases' intents.
    """
    phrases, intents = distinct_phrases(n_distinct, seed)
    rng = np.random.default_rng(seed + 1)
    weights = 1.0 / np.arange(1, n_distinct + 1) ** 0.9
    extra = rng.choice(n_distinct, size=max(n_rows - n_distinct, 0), p=weights / weights.sum())
    index = rng.permutation(np.concatenate([np.arange(n_distinct), extra]))
    return [phrases[i] for i in index], index, intents


def ontology() -> dict:
    """The hand-written ontology for these actions: short keyword lists, as people write them."""
    return {"name": "visual-search-tools", "version": 1, "categories": [
        {"name": "search condition refinement", "keywords": ["refine", "condition", "filter", "attribute"],
         "subcategories": [
             {"name": "colour condition", "keywords": ["colour", "color", "black", "red"]},
             {"name": "material condition", "keywords": ["material", "fabric", "cotton"]},
             {"name": "pattern condition", "keywords": ["pattern", "print", "striped"]},
             {"name": "size condition", "keywords": ["size", "sizes"]}]},
        {"name": "brand", "keywords": ["brand", "logo", "ocr"],
         "subcategories": [
             {"name": "brand text recognition", "keywords": ["ocr", "text", "recognise"]},
             {"name": "brand filter", "keywords": ["brand filter", "official store"]}]},
        {"name": "price segmentation", "keywords": ["price", "budget", "premium"],
         "subcategories": [
             {"name": "price bands", "keywords": ["price range", "band", "segment"]},
             {"name": "high-end alternatives", "keywords": ["high-end", "luxury", "premium"]}]},
        {"name": "category clarification", "keywords": ["category", "categories"],
         "subcategories": [
             {"name": "confirm category", "keywords": ["clarify", "confirm", "intended"]},
             {"name": "group by category", "keywords": ["group", "mixed"]}]},
        {"name": "photo quality", "keywords": ["photo", "shot", "picture"]},
    ]}
