"""The product catalogue: categories, their vocabularies and price distributions.

Each main category lists subcategories (with the shape drawn for them), brands,
colours, materials, origins, package sizes and spec values, and a log-normal price
(median, sigma) in CNY. Products are drawn from these with a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 28), "white": (240, 240, 236), "red": (200, 30, 40),
    "blue": (35, 70, 190), "green": (40, 150, 70), "yellow": (235, 200, 40),
    "pink": (235, 130, 170), "brown": (120, 75, 40), "grey": (128, 128, 130),
    "gold": (212, 175, 55), "silver": (192, 192, 200), "purple": (120, 50, 160),
    "orange": (240, 130, 30), "beige": (220, 200, 160),
}


@dataclass(frozen=True)
class Category:
    name: str
    subcategories: dict[str, str]  # subcategory -> shape drawn for it
    brands: tuple[str, ...]
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    origins: tuple[str, ...]
    price: tuple[float, float]  # median CNY, log sigma
    packages: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    spec_models: tuple[str, ...] = ()
    spec_sizes: tuple[str, ...] = ()
    title_words: tuple[str, ...] = field(default=())


CATEGORIES: tuple[Category, ...] = (
    Category("apparel", {"t-shirt": "shirt", "dress": "dress", "jacket": "shirt", "jeans": "trousers",
                         "sneakers": "shoe", "hoodie": "shirt"},
             ("Uniqlo", "Zara", "Li-Ning", "Anta", "H&M", "Bosideng", "Peacebird", "Semir"),
             ("black", "white", "red", "blue", "green", "pink", "grey", "beige", "brown"),
             ("cotton", "polyester", "linen", "wool", "denim", "silk"),
             ("Guangdong", "Zhejiang", "Fujian", "Jiangsu", "Vietnam"), (129.0, 0.6),
             patterns=("plain", "striped", "floral", "checked", "logo print"),
             styles=("casual", "sport", "business", "vintage", "streetwear"),
             targets=("women", "men", "unisex", "kids"),
             spec_sizes=("S", "M", "L", "XL", "XXL"),
             title_words=("slim fit", "oversized", "breathable", "2026 new", "spring")),
    Category("jewellery", {"ring": "ring", "necklace": "necklace", "earrings": "ring", "bracelet": "ring"},
             ("Chow Tai Fook", "Lukfook", "Pandora", "Swarovski", "Chow Sang Sang", "Tiffany"),
             ("gold", "silver", "white", "pink", "green"),
             ("18k gold", "925 silver", "alloy", "platinum", "jade", "stainless steel"),
             ("Shenzhen", "Hong Kong", "Italy", "Yiwu"), (680.0, 1.1),
             styles=("minimalist", "vintage", "luxury", "cute"), targets=("women", "men", "unisex"),
             spec_sizes=("#10", "#12", "#14", "45cm", "16cm"),
             title_words=("gift box", "certified", "hypoallergenic", "handmade")),
    Category("electronics parts", {"screw": "bolt", "connector": "chip", "resistor": "chip",
                                   "cable": "cable", "capacitor": "cylinder", "bearing": "ring"},
             ("TE Connectivity", "Murata", "Yageo", "Molex", "NSK", "Delixi", "Chint"),
             ("black", "silver", "grey", "blue", "yellow", "brown"),
             ("stainless steel", "brass", "copper", "nylon", "ceramic", "carbon steel"),
             ("Shenzhen", "Dongguan", "Japan", "Germany", "Taiwan"), (18.0, 1.0),
             packages=("10 pcs", "50 pcs", "100 pcs", "500 pcs", "1 reel"),
             spec_models=("M3x8", "M4x10", "M5x12", "JST-XH 2.54", "0805 10k", "6201-2RS", "USB-C 24p"),
             spec_sizes=("2.54mm", "3mm", "5mm", "0805", "12mm", "1m"),
             title_words=("industrial", "high precision", "RoHS", "bulk")),
    Category("medicine", {"cold medicine": "box", "vitamins": "bottle", "ointment": "tube",
                          "eye drops": "bottle", "pain relief": "box"},
             ("Tongrentang", "999", "Yunnan Baiyao", "By-health", "Centrum", "Bayer"),
             ("white", "blue", "green", "red", "orange", "yellow"),
             ("tablet", "capsule", "granule", "liquid", "cream"),
             ("Beijing", "Yunnan", "Shanghai", "Germany", "USA"), (39.0, 0.5),
             packages=("12 tablets", "24 capsules", "60 tablets", "10 ml", "20 g", "100 tablets"),
             targets=("adults", "children", "elderly"),
             spec_models=("OTC", "Rx", "health food"),
             title_words=("fast relief", "family pack", "genuine", "pharmacy")),
    Category("home", {"mug": "cylinder", "lamp": "lamp", "pillow": "box", "vase": "bottle",
                      "storage box": "box", "towel": "box"},
             ("IKEA", "MUJI", "Xiaomi", "Supor", "Lock&Lock", "Nitori"),
             ("white", "grey", "beige", "blue", "green", "brown", "black", "yellow"),
             ("ceramic", "glass", "plastic", "bamboo", "cotton", "metal"),
             ("Jingdezhen", "Zhejiang", "Guangdong", "Japan"), (69.0, 0.7),
             packages=("1 pc", "2 pcs", "set of 4"),
             patterns=("plain", "striped", "checked", "floral"),
             styles=("nordic", "japanese", "modern", "retro"),
             spec_sizes=("350ml", "500ml", "30cm", "45x45cm", "large"),
             title_words=("minimal", "gift", "household", "durable")),
    Category("beauty", {"lipstick": "tube", "face cream": "cylinder", "perfume": "bottle",
                        "foundation": "bottle", "mascara": "tube"},
             ("L'Oreal", "Estee Lauder", "Perfect Diary", "Florasis", "Shiseido", "Lancome", "MAC"),
             ("red", "pink", "beige", "black", "gold", "white", "purple"),
             ("matte", "gloss", "cream", "liquid", "powder"),
             ("France", "Japan", "Shanghai", "Korea", "USA"), (220.0, 0.8),
             packages=("3.5 g", "30 ml", "50 ml", "100 ml", "gift set"),
             targets=("women", "men", "unisex"),
             spec_models=("#999", "#520", "N20", "01 ivory", "shade 3"),
             title_words=("long lasting", "moisturising", "limited edition", "authentic")),
    Category("food", {"tea": "box", "snacks": "bag", "coffee": "bag", "chocolate": "box",
                      "nuts": "bag"},
             ("Three Squirrels", "Nongfu", "Nestle", "Lindt", "Bestore", "Liziqi", "Dove"),
             ("brown", "green", "red", "yellow", "gold", "black"),
             ("tin", "paper bag", "glass jar", "plastic bag"),
             ("Yunnan", "Fujian", "Xinjiang", "Belgium", "Brazil"), (49.0, 0.6),
             packages=("100 g", "250 g", "500 g", "1 kg", "12 bags", "gift box"),
             spec_models=("original", "spicy", "sugar free", "dark 70%"),
             title_words=("fresh", "imported", "new harvest", "family size")),
    Category("toys", {"building blocks": "box", "plush toy": "bear", "toy car": "car",
                      "doll": "dress", "puzzle": "box"},
             ("LEGO", "Bandai", "Pop Mart", "Hasbro", "Mattel", "Keeppley"),
             ("red", "blue", "yellow", "green", "pink", "purple", "orange"),
             ("plastic", "plush", "wood", "alloy"),
             ("Guangdong", "Zhejiang", "Denmark", "Japan"), (159.0, 0.9),
             packages=("1 pc", "set", "blind box"),
             targets=("kids 3+", "kids 6+", "teens", "adults"),
             spec_models=("42115", "10294", "series 3", "classic"),
             title_words=("gift", "educational", "collectible", "genuine")),
)

CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}


def build_catalogue(n: int, rng: np.random.Generator) -> pa.Table:
    """``n`` products spread over every category and subcategory, as an Arrow table."""
    rows: dict[str, list] = {k: [] for k in (
        "product_id", "title", "main_category", "subcategory", "brand", "price", "currency",
        "colour", "material", "origin", "package_size", "pattern", "style", "target_group",
        "spec_model", "spec_size", "shop_id", "rating", "monthly_sales", "image_uri")}
    pairs = [(c, s) for c in CATEGORIES for s in c.subcategories]
    for i in range(n):
        cat, sub = pairs[i % len(pairs)]
        pick = lambda opts, fill=0.9: (str(rng.choice(opts)) if opts and rng.random() < fill else None)
        brand = str(rng.choice(cat.brands))
        colour = str(rng.choice(cat.colours))
        price = float(np.round(cat.price[0] * np.exp(rng.normal(0, cat.price[1])), 2))
        words = [brand, str(rng.choice(cat.title_words)), colour, sub]
        material = pick(cat.materials)
        if material and rng.random() < 0.6:
            words.insert(3, material)
        product_id = f"p{i:07d}"
        rows["product_id"].append(product_id)
        rows["title"].append(" ".join(words))
        rows["main_category"].append(cat.name)
        rows["subcategory"].append(sub)
        rows["brand"].append(brand)
        rows["price"].append(max(price, 0.5))
        rows["currency"].append("CNY")
        rows["colour"].append(colour)
        rows["material"].append(material)
        rows["origin"].append(pick(cat.origins, 0.7))
        rows["package_size"].append(pick(cat.packages))
        pattern = pick(cat.patterns)
        # a pattern on white would be drawn in grey ink, which reads as a grey item: white stays plain
        rows["pattern"].append("plain" if pattern and colour == "white" else pattern)
        rows["style"].append(pick(cat.styles, 0.8))
        rows["target_group"].append(pick(cat.targets, 0.8))
        rows["spec_model"].append(pick(cat.spec_models))
        rows["spec_size"].append(pick(cat.spec_sizes, 0.85))
        rows["shop_id"].append(f"s{int(rng.integers(0, max(n // 12, 1))):05d}")
        rows["rating"].append(float(np.round(np.clip(rng.normal(4.6, 0.3), 1, 5), 1)))
        rows["monthly_sales"].append(int(rng.pareto(1.2) * 50))
        rows["image_uri"].append(f"images/products/{product_id}.png")
    from schemas.arrow import arrow_schema
    from schemas.tables import Product

    return pa.Table.from_pydict(rows, schema=arrow_schema(Product))
