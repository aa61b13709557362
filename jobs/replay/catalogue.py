"""The catalogue as the executors and the judge see it: attributes by product id (lower case),
price bands within each subcategory, and each subcategory's products by popularity."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd


class Catalogue:
    """Product attributes by id (lower case), price bands within each subcategory, and the
    products of each subcategory by popularity, for conditions and supplements."""

    COLUMNS = ("main_category", "subcategory", "colour", "brand", "material", "pattern", "spec_model")

    def __init__(self, products: pd.DataFrame):
        frame = products.drop_duplicates("product_id").set_index("product_id")
        attrs = pd.DataFrame(index=frame.index)
        for column in self.COLUMNS:
            values = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
            attrs[column] = values.astype(object).where(values.notna(), None)
            attrs[column] = [v.lower() if isinstance(v, str) else None for v in attrs[column]]
        attrs["price_band"] = bands(frame["price"].astype(float), attrs["subcategory"])
        popularity = frame["monthly_sales"] if "monthly_sales" in frame else pd.Series(0, index=frame.index)
        attrs["popularity"] = popularity.fillna(0).to_numpy()
        order = attrs.sort_values(["subcategory", "popularity"], ascending=[True, False], kind="stable")
        self.attrs = attrs
        self._lookup = {c: dict(zip(attrs.index, attrs[c])) for c in (*self.COLUMNS, "price_band")}
        self.by_sub = {s: list(g.index) for s, g in order.groupby("subcategory", sort=False)}
        self.by_main = {m: list(g.sort_values("popularity", ascending=False, kind="stable").index)
                        for m, g in attrs.groupby("main_category", sort=False)}
        self.main_of = dict(zip(attrs["subcategory"], attrs["main_category"]))
        self.vocabulary = {c: frozenset(attrs[c].dropna()) for c in self.COLUMNS}
        self.categories = self.vocabulary["main_category"] | self.vocabulary["subcategory"]
        self.vocabulary["price_band"] = frozenset({"low", "mid", "high"})

    def values(self, ids: list[str], column: str) -> list[str | None]:
        col = self._lookup[column]
        return [col.get(p) for p in ids]

    def supplement(self, sub: str | None, main: str | None, column: str, want: list[str] | None,
                   exclude: set[str], limit: int, avoid: list[str] | None = None) -> list[str]:
        """Up to ``limit`` products of the subcategory (else the main category) meeting the condition."""
        pool = self.by_sub.get(sub) if sub else None
        pool = pool if pool else self.by_main.get(main, [])
        col, out = self._lookup[column], []
        for p in pool:
            if len(out) >= limit:
                break
            v = col.get(p)
            if p not in exclude and v is not None and (v in want if want else v not in (avoid or ())):
                out.append(p)
        return out

    def subcategory_of(self, ids: list[str]) -> tuple[str | None, str | None]:
        """The majority subcategory of a ranking (ties: the better-ranked) and its main category."""
        subs = [s for s in self.values(ids, "subcategory") if s]
        if not subs:
            return None, None
        counts = Counter(subs)  # insertion order is rank order, and max keeps the first of a tie
        best = max(counts, key=counts.get)
        return best, self.main_of.get(best)


def bands(price: pd.Series, sub: pd.Series) -> list[str]:
    """low / mid / high: bottom quarter, middle half, top quarter of the price rank within the subcategory."""
    rank = price.groupby(sub.to_numpy(), dropna=False).rank(method="first", pct=True).to_numpy()
    return np.select([rank > 0.75, rank <= 0.25], ["high", "low"], "mid").tolist()
