"""Test data for the cache and analyse stages: ``samples`` rows built from generated logs.

A small pandas join (events + impressions + catalogue), not the Spark sample stage,
so these tests do not depend on it. Every image query becomes a sample.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

METADATA = ("main_category", "subcategory", "brand", "colour", "material", "origin", "package_size",
            "pattern", "style", "target_group", "spec_model", "spec_size", "shop_id")


def _read(logs: Path, table: str) -> pd.DataFrame:
    return ds.dataset(Path(logs) / table, format="parquet", partitioning="hive").to_table().to_pandas()


def samples_from_logs(logs: Path, run_id: str = "test", limit: int | None = None,
                      max_products: int = 12) -> list[dict]:
    """Sample rows (``schemas.tables.Sample``) for the image queries of ``logs``, in time order."""
    events = _read(logs, "search_events")
    events = events[events["query_type"] == "image"].sort_values(["ts", "query_id"])
    events = events.drop_duplicates("query_id")
    if limit:
        events = events.head(limit)
    products = _read(logs, "products").set_index("product_id")
    imps = _read(logs, "impressions")
    imps = imps[imps["query_id"].isin(set(events["query_id"]))].sort_values(["query_id", "rank"])
    by_query = {q: g.head(max_products) for q, g in imps.groupby("query_id")}
    rows = []
    for e in events.itertuples():
        g = by_query.get(e.query_id)
        if g is None or g.empty:
            continue
        items = []
        for imp in g.itertuples():
            p = products.loc[imp.product_id]
            meta = {f: str(p[f]) for f in METADATA if p[f] is not None and not pd.isna(p[f])}
            items.append({"rank": int(imp.rank), "product_id": imp.product_id, "similarity": float(imp.similarity),
                          "title": p["title"], "price": float(p["price"]), "image_uri": p["image_uri"],
                          "metadata": meta})
        cats = pd.Series([i["metadata"]["main_category"] for i in items[:3]]).mode()
        rows.append({"query_id": e.query_id, "user_id": e.user_id, "ts": e.ts, "image_uri": e.image_uri,
                     "main_category": str(cats.iloc[0]), "sample_rank": len(rows) + 1,
                     "category_population": 1, "category_sampled": 1, "sample_weight": 1.0,
                     "products": items, "top_fields": ["brand", "colour", "price"], "run_id": run_id})
    return rows


def write_samples(root: Path, week: str, rows: list[dict], run_id: str = "test") -> None:
    from jobs.common.storage import write_table
    from schemas.arrow import to_arrow
    from schemas.tables import Sample

    write_table(root, "samples", week, run_id, to_arrow(Sample, rows))


def ground_truth(logs: Path) -> pd.DataFrame:
    return _read(logs, "ground_truth").set_index("query_id")
