"""Tool executors: apply one tool, with the Info a signal gave it, to a query's ranked results.

Each executor does what the search pipeline would do with such a step: re-filter and
re-rank the retrieved products by a condition, supplement them from the catalogue
with products that meet it, or only mark the query as one that asks the shopper
something (a clarifying question, a clearer photo) or shows extra information.

Which executor serves a tool is read from the tool's *text* — its title, its group's
names, its example actions — and the Info, scored against each executor's
description words (:func:`choose_executor`); never from the tool's index, so a new
tool-list version, a renamed tool or a new ontology is served the same way.
Supplements are taken from the query's subcategory (the majority among its results),
most popular first: the replay has no visual similarity for products it did not see.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

TOP = 4  # the paper's top-4
CONDITION_FIELDS = {"colour": "colour", "brand": "brand", "material": "material", "style": "pattern",
                    "spec": "spec_model"}


@dataclass(frozen=True)
class Executor:
    """A kind of search-pipeline step and the words that describe it (word prefix → weight)."""

    name: str
    effect: str  # condition, price, category, information, asks_shopper, rerank
    words: dict[str, float]


EXECUTORS: tuple[Executor, ...] = (
    Executor("colour", "condition", {"colour": 2, "color": 2, "hue": 1}),
    Executor("brand", "condition", {"brand": 2, "logo": 2, "ocr": 2, "text recognition": 2, "label": 1}),
    Executor("material", "condition", {"material": 2, "metal": 2, "fabric": 2}),
    Executor("style", "condition", {"style": 2, "pattern": 2, "design": 1}),
    Executor("spec", "condition", {"spec": 2, "part number": 2, "model number": 1}),
    Executor("price", "price", {"price": 2, "premium": 2, "high-end": 2, "pricier": 2, "higher-priced": 2,
                                "luxury": 1, "budget": 1, "cheap": 1, "tier": 1}),
    Executor("category", "category", {"categor": 2, "product type": 2, "item type": 2}),
    Executor("information", "information", {"info": 2, "details": 1, "dosage": 2, "usage": 2, "leaflet": 2,
                                            "instructions": 1, "how to take": 2, "explain": 1}),
    Executor("clarify", "asks_shopper", {"clarify": 3, "ask about": 3, "question": 3, "with the shopper": 2,
                                         "confirm": 1.5, "intended": 1.5, "wanted": 1.5, "which": 1}),
    Executor("photo", "asks_shopper", {"retake": 2, "re-shoot": 2, "reupload": 2, "clearer": 2, "sharper": 2,
                                       "better-lit": 2, "better photo": 2, "new photo": 2, "new picture": 2,
                                       "second photo": 2, "image quality": 2, "blur": 2, "in focus": 2}),
    Executor("rerank", "rerank", {"re-rank": 2, "rerank": 2, "re-order": 2, "re-score": 2, "similarity": 2,
                                  "visual": 1, "widen": 2, "broaden": 2, "candidate": 2, "more similar": 2}),
)
EXECUTOR_BY_NAME = {e.name: e for e in EXECUTORS}
PRICE_WORDS = {"high": ("high", "higher", "premium", "pricier", "luxury", "expensive", "pricey"),
               "low": ("low", "lower", "cheap", "cheaper", "budget"), "mid": ("mid", "middle")}


@dataclass(frozen=True)
class ToolCard:
    """What the replay knows of a tool: its group and examples (never its index)."""

    title: str
    main_category: str | None = None
    subcategory: str | None = None
    example_actions: tuple[str, ...] = ()


@dataclass
class Outcome:
    """One executor's result on one ranked list."""

    products: list[str]
    executor: str
    changed: bool = False
    asks_shopper: bool = False
    shows_information: bool = False
    no_match: bool = False
    note: str = ""


@functools.lru_cache(maxsize=None)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern:
    """One pattern for an executor's words, longest first, each at the start of a word."""
    return re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")")


def _score(text: str, words: dict[str, float]) -> float:
    return sum(words[m] for m in _words_pattern(tuple(words)).findall(text))


@functools.lru_cache(maxsize=64)
def _values_pattern(values: frozenset) -> re.Pattern | None:
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True) if v)
    return re.compile(r"(?<![\w])(" + alternatives + r")(?![\w])")


def choose_executor(card: ToolCard, info: str, vocabulary: dict[str, frozenset] | None = None) -> str | None:
    """The executor whose description words best match the tool's text and its Info (None: none does).

    Weights: title and subcategory 3, main category 1, example actions 2 shared among
    them, the Info 1; an Info that names a known value of a condition field (a colour
    of the catalogue, say) adds 1 to that field's executor. Ties go to the executor
    listed first in :data:`EXECUTORS`.
    """
    examples = card.example_actions or ()
    parts = [(card.title, 3.0), (card.subcategory or "", 3.0), (card.main_category or "", 1.0), (info, 1.0)]
    parts += [(a, 2.0 / len(examples)) for a in examples]
    parts = [(t.lower(), w) for t, w in parts if t]
    scores = np.array([sum(w * _score(t, e.words) for t, w in parts) for e in EXECUTORS])
    for i, e in enumerate(EXECUTORS):
        column = CONDITION_FIELDS.get(e.name)
        if vocabulary and column and wanted_values(info, vocabulary.get(column, frozenset()))[0]:
            scores[i] += 1.0
    return EXECUTORS[int(np.argmax(scores))].name if scores.max() > 0 else None


def wanted_values(info: str, values: frozenset) -> tuple[list[str], list[str]]:
    """Values of a field named in the Info: (wanted, to avoid). What follows "results" describes
    the results the shopper rejected ("brand text on the photo (results: Li-Ning)"): avoid those."""
    text = info.lower()
    cut = re.search(r"\bresults?\b", text)
    head, tail = (text[:cut.start()], text[cut.start():]) if cut else (text, "")

    pattern = _values_pattern(frozenset(values))

    def found(part: str) -> list[str]:
        return list(dict.fromkeys(pattern.findall(part))) if pattern is not None else []

    return found(head), found(tail)


def price_band(info: str) -> str | None:
    """The price band the Info asks for ("higher price band than 52 CNY" → high), or None."""
    words = set(re.findall(r"[a-z]+", info.lower()))  # "high-end" gives "high"
    for band, names in PRICE_WORDS.items():
        if words & set(names):
            return band
    return None


@dataclass
class Query:
    """A query as the executors see it: its ranked product ids and its subcategory."""

    products: list[str]
    subcategory: str | None
    main_category: str | None
    limit: int = 12


def run_executor(name: str | None, info: str, query: Query, catalogue) -> Outcome:
    """Apply the executor ``name`` with ``info`` to the query's current ranking."""
    current = list(query.products)
    if name is None:
        return Outcome(current, "none", note="no executor matches this tool")
    kind = EXECUTOR_BY_NAME[name]
    if kind.effect == "asks_shopper":
        what = "a clearer photo" if name == "photo" else f"a clarifying question ({info})"
        return Outcome(current, name, asks_shopper=True, note=f"asks the shopper: {what}")
    if kind.effect == "information":
        return Outcome(current, name, shows_information=True, note=f"shows information: {info}")
    if kind.effect == "rerank":
        return Outcome(current, name, note="results are already ranked by visual similarity")
    if kind.effect == "price":
        band = price_band(info)
        if band is None:
            return Outcome(current, name, note=f"the Info names no price band ({info!r})")
        return condition(name, "price_band", [band], [], query, catalogue)
    if kind.effect == "category":
        want, _ = wanted_values(info, catalogue.categories)
        if not want:
            return Outcome(current, name, note=f"the Info names no known category ({info!r})")
        return restrict_category(want, query, catalogue)
    column = CONDITION_FIELDS[name]
    want, avoid = wanted_values(info, catalogue.vocabulary[column])
    if not want and not avoid:
        return Outcome(current, name, note=f"the Info names no {column} value ({info!r})")
    return condition(name, column, want, avoid, query, catalogue)


def condition(name: str, column: str, want: list[str], avoid: list[str], query: Query, catalogue) -> Outcome:
    """Products meeting the condition first, the rest after: results of the query's category,
    then the catalogue's, then results of other categories (a condition narrows the search, it
    does not leave its category).

    With only values to avoid (the results' own), one product per other value goes first.
    """
    current = list(query.products)
    mains = catalogue.values(current, "main_category")
    own = [p for p, m in zip(current, mains) if query.main_category is None or m == query.main_category]
    other = [p for p, m in zip(current, mains) if not (query.main_category is None or m == query.main_category)]
    if want:
        meets = lambda ids: [p for p, v in zip(ids, catalogue.values(ids, column)) if v in want]  # noqa: E731
        extra = catalogue.supplement(query.subcategory, query.main_category, column, want,
                                     exclude=set(current), limit=query.limit)
        head = meets(own) + extra + meets(other)
        label = f"{column} = {'/'.join(want)}"
    else:
        keeps = lambda ids: [p for p, v in zip(ids, catalogue.values(ids, column))  # noqa: E731
                             if v is not None and v not in avoid]
        pool = keeps(own) + catalogue.supplement(query.subcategory, query.main_category, column, None,
                                                 exclude=set(current), limit=query.limit, avoid=avoid)
        head, taken = [], set()
        for p, v in zip(pool, catalogue.values(pool, column)):
            if v not in taken:
                head.append(p)
                taken.add(v)
        label = f"{column} other than {'/'.join(avoid)}, one per value"
    if not head:
        return Outcome(current, name, no_match=True,
                       note=f"no product with {label} in the results or the catalogue: unchanged")
    ranked = _merge(head, current, query.limit)
    return Outcome(ranked, name, changed=ranked != current, note=f"condition {label}: {len(head)} first")


def restrict_category(want: list[str], query: Query, catalogue) -> Outcome:
    """Keep the results of the named category, filled up from the catalogue's."""
    current = query.products
    mains, subs = catalogue.values(current, "main_category"), catalogue.values(current, "subcategory")
    keep = [p for p, m, s in zip(current, mains, subs) if m in want or s in want]
    sub = query.subcategory if query.subcategory in want or query.main_category in want else None
    column = "subcategory" if sub else "main_category"
    value = [sub] if sub else [w for w in want if w in catalogue.vocabulary["main_category"]] or want[:1]
    extra = catalogue.supplement(sub, None if sub else value[0], column, value, exclude=set(current),
                                 limit=query.limit - len(keep))
    ranked = (keep + extra)[: query.limit]
    if not ranked:
        return Outcome(list(current), "category", no_match=True,
                       note=f"no product of category {'/'.join(want)}: unchanged")
    return Outcome(ranked, "category", changed=ranked != list(current),
                   note=f"restricted to {'/'.join(want)}: {len(keep)} kept, {len(extra)} added")


def _merge(head: list[str], rest: list[str], limit: int) -> list[str]:
    seen, out = set(), []
    for p in head + rest:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out[:limit]
