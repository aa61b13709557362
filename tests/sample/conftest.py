"""One local SparkSession for the whole test group, and small log builders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from jobs.common.settings import Settings, SparkSettings
from schemas.arrow import arrow_schema
from schemas.tables import TABLES

WEEK = "2026-W47"
MONDAY = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def spark():
    from jobs.common.spark import get_spark

    session = get_spark(SparkSettings(master="local[2]", shuffle_partitions=1, driver_memory="1g"))
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(spark=SparkSettings(master="local[2]", shuffle_partitions=1, driver_memory="1g"))


def at(seconds: float, day: int = 0) -> dt.datetime:
    """A UTC instant ``seconds`` after Monday 00:00 of the test week, plus ``day`` days."""
    return MONDAY + dt.timedelta(days=day, hours=10, seconds=seconds)


def event(query_id: str, ts: dt.datetime, user_id: str = "u1", query_type: str = "image",
          image_uri: str | None = "images/queries/ok.png", user_agent: str = "Mozilla/5.0 (iPhone)",
          ip: str = "10.0.0.1", device: str = "ios") -> dict:
    return {"query_id": query_id, "user_id": user_id, "ts": ts, "query_type": query_type,
            "image_uri": image_uri if query_type == "image" else None,
            "text": None if query_type == "image" else "red dress", "device": device,
            "user_agent": user_agent, "ip": ip}


def product(product_id: str, category: str = "apparel", **fields) -> dict:
    row = {"product_id": product_id, "title": f"title {product_id}", "main_category": category,
           "subcategory": "dress", "price": 99.0, "currency": "CNY", "shop_id": "s1", "rating": 4.5,
           "monthly_sales": 10, "image_uri": f"images/products/{product_id}.png"}
    row.update(fields)
    return row


def draw(path: Path, kind: str = "ok", size: int = 96) -> Path:
    """A test photo: ``ok`` (sharp noisy shapes), ``tiny``, ``blurred``, ``dark``, ``bright``, ``uniform``."""
    from PIL import ImageFilter

    rng = np.random.default_rng(0)
    side = 32 if kind == "tiny" else size
    grey = np.full((side, side), 150.0)
    grey[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = 60.0
    grey += rng.normal(0, 8, grey.shape)
    if kind == "dark":
        grey = grey * 0.08
    elif kind == "bright":
        grey = 255 - (255 - grey) * 0.05
    elif kind == "uniform":
        grey = 140 + rng.normal(0, 0.8, grey.shape)
    img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB")
    if kind == "blurred":
        img = img.filter(ImageFilter.GaussianBlur(radius=4))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")
    return path


def write_logs(logs: Path, events: list[dict], impressions: list[dict] = (), clicks: list[dict] = (),
               products: list[dict] = (), images: dict[str, str] | None = None) -> Path:
    """Write rows in the generated logs' layout; impressions and clicks go to their query's date.

    ``images`` maps an image_uri to a kind for :func:`draw` (default: every query and product
    image is ``ok``; ``missing`` draws nothing).
    """
    query_date = {e["query_id"]: e["ts"].strftime("%Y-%m-%d") for e in events if e["ts"]}
    for table, rows, date_of in (("search_events", events, lambda r: query_date.get(r["query_id"])),
                                 ("impressions", impressions, lambda r: query_date.get(r["query_id"])),
                                 ("clicks", clicks, lambda r: query_date.get(r["query_id"]))):
        by_date: dict[str, list[dict]] = {}
        for row in rows:
            by_date.setdefault(date_of(row) or MONDAY.strftime("%Y-%m-%d"), []).append(row)
        for date, part in by_date.items():
            folder = logs / table / f"date={date}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(_loose_table(table, part), folder / "part-00000.parquet")
    (logs / "products").mkdir(parents=True, exist_ok=True)
    pq.write_table(_loose_table("products", list(products)), logs / "products" / "part-00000.parquet")
    uris = {e["image_uri"] for e in events if e.get("image_uri")}
    uris |= {p["image_uri"] for p in products if p.get("image_uri")}  # product photos are checked too
    kinds = {uri: "ok" for uri in uris} | (images or {})
    for uri, kind in kinds.items():
        if kind != "missing":
            draw(logs / uri, kind)
    return logs


def _loose_table(table: str, rows: list[dict]) -> pa.Table:
    """Rows as Arrow with the model's types but every column nullable (to plant bad rows)."""
    schema = pa.schema([f.with_nullable(True) for f in arrow_schema(TABLES[table])])
    return pa.Table.from_pylist(rows, schema=schema)
