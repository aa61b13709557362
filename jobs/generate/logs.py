"""``intentmine generate-logs``: a week of realistic visual-search logs, deterministic per seed.

What is planted (shares are of all search events unless said otherwise; the
generator's own summary and the tests check them):

* bots: about 8 % of events, from three kinds of bot user: a crawler user agent with
  bursts of requests seconds apart, a browser user agent with the same bursts, and a
  crawler user agent at a slow, human-like rate;
* text queries: about 7 % of human events (not image searches, so never no-click candidates);
* image defects: about 8 % of fresh query photos are tiny, blurred, dark, bright or
  near-uniform (the share of events follows as photos are reused);
* near-duplicates: about 20 % of fresh query photos are re-uploads (crop, rescale,
  JPEG noise) of an earlier one; once the photo pool (``query_image_pool``) is used up,
  later queries reuse pool photos by path, and count as near-duplicates of the first
  query that showed that photo;
* scenarios: 45 % of fresh photos with no defect carry a discrepancy scenario from
  :mod:`jobs.generate.scenarios`, which skews their retrieval results; defective
  photos are ``unclear_photo``;
* clicks: 70 % of good searches get a click within 30 s, a discrepancy 10 %, a defect
  5 %, bots 1 %; 12 % of the rest get a late click (31 s to 20 min), which does not count.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InputError
from core.progress import Progress
from jobs.generate import traffic
from jobs.generate.traffic import ids
from jobs.generate.catalogue import CATEGORY_BY_NAME, build_catalogue
from jobs.generate.images import DEFECTS, apply_defect, draw_item, near_duplicate, photo, save_png
from jobs.generate.scenarios import SCENARIO_NAMES, scenarios_for
from schemas.arrow import arrow_schema, validate
from schemas.tables import Click, GroundTruth, Impression, SearchEvent

log = logging.getLogger("intentmine")
DUP_SHARE, DEFECT_SHARE, SCENARIO_SHARE = 0.20, 0.08, 0.45


def plant_slots(products: pa.Table, n_slots: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Decide, for each fresh query photo, its item, scenario, defect and near-duplicate source."""
    cats = products.column("main_category").to_numpy(zero_copy_only=False)
    subs = products.column("subcategory").to_numpy(zero_copy_only=False)
    price = products.column("price").to_numpy()
    n_products = len(cats)
    slot = {k: np.zeros(n_slots, np.int64) for k in ("product", "scenario", "defect", "source", "brand_text")}
    slot["source"][:] = -1
    slot["defect"][:] = -1
    originals: list[int] = []
    for j in range(n_slots):
        if originals and rng.random() < DUP_SHARE:
            src = originals[int(rng.integers(len(originals)))]
            for key in ("product", "scenario", "defect", "brand_text"):
                slot[key][j] = slot[key][src]
            slot["source"][j] = src
            continue
        originals.append(j)
        p = int(rng.integers(n_products))
        if rng.random() < DEFECT_SHARE:
            slot["defect"][j] = int(rng.integers(len(DEFECTS)))
            name = "unclear_photo"
        elif rng.random() < SCENARIO_SHARE:
            name = str(rng.choice([s.name for s in scenarios_for(str(cats[p]))]))
        else:
            name = "none"
        if name in ("wrong_price_band", "jewellery_material_price"):
            same = np.flatnonzero(subs == subs[p])  # a high-end item of the same kind
            p = int(same[np.argsort(price[same])][-1 - int(rng.integers(max(len(same) // 4, 1)))])
        slot["product"][j] = p
        slot["scenario"][j] = SCENARIO_NAMES.index(name)
        slot["brand_text"][j] = int(name == "brand_not_matched" or rng.random() < 0.25)
    return slot


def draw_images(out: Path, products: pa.Table, slot: dict[str, np.ndarray], size: int,
                rng: np.random.Generator) -> None:
    """Product pictures, then the query photo of every slot (PNG, bounded in number)."""
    (out / "images" / "products").mkdir(parents=True, exist_ok=True)
    (out / "images" / "queries").mkdir(parents=True, exist_ok=True)
    rows = products.select(["main_category", "subcategory", "colour", "brand", "image_uri"]).to_pylist()
    progress = Progress("drawing images", total=len(rows) + len(slot["product"]), unit="images")
    clean: dict[int, object] = {}
    for r in rows:
        shape = CATEGORY_BY_NAME[r["main_category"]].subcategories[r["subcategory"]]
        text = r["brand"] if rng.random() < 0.3 else None
        save_png(draw_item(size, shape, r["colour"], rng, text), out / r["image_uri"])
        progress.update()
    for j, p in enumerate(slot["product"]):
        src = int(slot["source"][j])
        if src >= 0:
            img = near_duplicate(clean[src], rng)
        else:
            r = rows[int(p)]
            shape = CATEGORY_BY_NAME[r["main_category"]].subcategories[r["subcategory"]]
            text = r["brand"] if slot["brand_text"][j] else None
            img = photo(draw_item(size, shape, r["colour"], rng, text), rng)
            if slot["defect"][j] >= 0:
                img = apply_defect(img, DEFECTS[slot["defect"][j]], rng)
            clean[j] = img
        save_png(img, out / "images" / "queries" / f"img{j:07d}.png")
        progress.update()
    progress.close()


def generate_logs(out: Path | str, start: str = "2026-11-16", days: int = 7, queries: int = 4_000,
                  seed: int = 7, products: int = 2_400, query_image_pool: int = 4_000,
                  image_size: int = 96) -> dict:
    """Write the logs under ``out`` (tables replaced whole) and return a summary of what was planted."""
    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        raise InputError(f"--start '{start}': expected a date like 2026-11-16") from None
    if days < 1 or queries < 1 or products < 80 or query_image_pool < 1:
        raise InputError("--days and --queries must be at least 1 (products at least 80)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    stage = out / f".staging-{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    try:
        catalogue = build_catalogue(products, rng)
        pq.write_table(catalogue, _part(stage / "products"))
        q = traffic.plan_queries(queries, first_day, days, rng)
        n_image = int(q["is_image"].sum())
        slot = plant_slots(catalogue, min(query_image_pool, max(n_image, 1)), rng)
        traffic.attach_slots(q, slot, rng)
        draw_images(stage, catalogue, slot, image_size, rng)
        counts = _write_days(stage, q, catalogue, first_day, days, rng)
        _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    counts.update(traffic.summarise(q), seconds=round(time.perf_counter() - began, 2),
                  products=catalogue.num_rows, images=len(slot["product"]) + catalogue.num_rows)
    return counts


def _part(folder: Path, name: str = "part-00000.parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _write_days(stage: Path, q: dict, catalogue: pa.Table, first_day: dt.date, days: int,
                rng: np.random.Generator) -> dict:
    """Events, impressions, clicks and ground truth, one partition per UTC day."""
    counts = {"search_events": 0, "impressions": 0, "clicks": 0}
    query_ids = ids("q", np.arange(len(q["ts"])), 9)
    progress = Progress("writing logs", total=len(q["ts"]), unit="events")
    truth_parts = []
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        lo, hi = np.searchsorted(q["ts"], [traffic.day_us(day), traffic.day_us(day, 1)])
        if hi <= lo:
            continue
        sel = np.arange(lo, hi)
        tables = traffic.day_tables(q, sel, query_ids, catalogue, rng)
        for name, model in (("search_events", SearchEvent), ("impressions", Impression), ("clicks", Click)):
            data = validate(model, tables[name], name, source="generator")
            pq.write_table(data, _part(stage / name / f"date={day.isoformat()}"), compression="zstd")
            counts[name] += data.num_rows
        truth_parts.append(tables["ground_truth"])
        progress.update(len(sel))
    progress.close()
    truth = validate(GroundTruth, pa.concat_tables(truth_parts) if truth_parts else
                     arrow_schema(GroundTruth).empty_table(), "ground_truth", source="generator")
    pq.write_table(truth, _part(stage / "ground_truth"), compression="zstd")
    return counts


def _publish(stage: Path, out: Path) -> None:
    """Move each finished table and the images into ``out``, replacing older ones whole."""
    for entry in sorted(stage.iterdir()):
        target = out / entry.name
        if target.exists():
            old = out / f".old-{uuid.uuid4().hex}"
            os.rename(target, old)
            os.rename(entry, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(entry, target)
