"""``intentmine generate-logs``: a week of realistic visual-search logs, deterministic per seed.

What is planted (shares are of all search events unless said otherwise; the
generator's own summary and the tests check them):

* bots: about 8 % of events, from three kinds of bot user: a crawler user agent with
  bursts of requests seconds apart, a browser user agent with the same bursts, and a
  crawler user agent at a slow, human-like rate;
* text queries: about 7 % of human events (not image searches, so never no-click candidates);
* image defects: about 8 % of original query photos are tiny, blurred, dark, bright or
  near-uniform (the share of events follows as photos are re-uploaded);
* re-uploads: ``reupload_share`` (30 % by default) of image queries re-upload an earlier
  original photo, half as the same file and half as a near-duplicate (crop, rescale,
  JPEG noise); each counts as a near-duplicate of the first query that showed the
  original. Distinct photos grow with the queries (:mod:`jobs.generate.photos`);
* scenarios: 45 % of original photos with no defect carry a discrepancy scenario from
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
from jobs.generate.catalogue import CATEGORY_BY_NAME, build_catalogue
from jobs.generate.ids import ids
from jobs.generate.images import DEFECTS, draw_item, save_png
from jobs.generate.photos import PhotoSpec, draw_photos, plan_photos
from jobs.generate.scenarios import SCENARIO_NAMES, scenarios_for
from schemas.arrow import arrow_schema, validate
from schemas.tables import Click, GroundTruth, Impression, SearchEvent

log = logging.getLogger("intentmine")
REUPLOAD_SHARE, DEFECT_SHARE, SCENARIO_SHARE = 0.30, 0.08, 0.45
HIGH_END = ("wrong_price_band", "jewellery_material_price")  # these pick a high-end item of its kind


def plant_slots(products: pa.Table, file_source: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Decide, for each original query photo, its item, scenario, defect and printed brand.

    ``file_source`` gives each photo file the original it re-uploads (-1: it is one);
    a re-upload shows what its original shows. Vectorised: millions of photos take seconds.
    """
    cats = products.column("main_category").to_numpy(zero_copy_only=False)
    subs = products.column("subcategory").to_numpy(zero_copy_only=False)
    price = products.column("price").to_numpy()
    originals = np.flatnonzero(file_source < 0)
    m = len(originals)
    product = rng.integers(0, len(cats), m)
    is_defect = rng.random(m) < DEFECT_SHARE
    defect = np.where(is_defect, rng.integers(0, len(DEFECTS), m), -1)
    has_scenario = ~is_defect & (rng.random(m) < SCENARIO_SHARE)
    scenario = np.zeros(m, np.int64)
    pick = rng.random(m)
    for cat in np.unique(cats):
        options = np.array([SCENARIO_NAMES.index(x.name) for x in scenarios_for(str(cat))])
        sel = has_scenario & (cats[product] == cat)
        scenario[sel] = options[(pick[sel] * len(options)).astype(np.int64)]
    scenario[is_defect] = SCENARIO_NAMES.index("unclear_photo")
    high = np.isin(scenario, [SCENARIO_NAMES.index(x) for x in HIGH_END])
    sub_codes, sub_idx = np.unique(subs, return_inverse=True)
    order = np.lexsort((price, sub_idx))  # by subcategory, then price
    starts = np.searchsorted(sub_idx[order], np.arange(len(sub_codes)))
    sizes = np.bincount(sub_idx, minlength=len(sub_codes))
    k = sub_idx[product[high]]
    top = (rng.random(int(high.sum())) * np.maximum(sizes[k] // 4, 1)).astype(np.int64)
    product[high] = order[starts[k] + sizes[k] - 1 - top]
    brand_text = ((scenario == SCENARIO_NAMES.index("brand_not_matched")) | (rng.random(m) < 0.25)).astype(np.int64)
    root = np.where(file_source >= 0, file_source, np.arange(len(file_source)))
    rank = np.full(len(file_source), -1, np.int64)
    rank[originals] = np.arange(m)
    at = rank[root]
    return {"product": product[at], "scenario": scenario[at], "defect": defect[at],
            "brand_text": brand_text[at], "source": file_source.astype(np.int64)}


def draw_images(out: Path, products: pa.Table, slot: dict[str, np.ndarray], size: int,
                rng: np.random.Generator, seed: int, workers: int = 0) -> None:
    """Product pictures (PNG), then every query photo file (JPEG, drawn by ``workers`` processes)."""
    (out / "images" / "products").mkdir(parents=True, exist_ok=True)
    rows = products.select(["main_category", "subcategory", "colour", "brand", "pattern", "image_uri"]).to_pylist()
    progress = Progress("drawing images", total=len(rows) + len(slot["product"]), unit="images")
    items = []
    for r in rows:
        shape = CATEGORY_BY_NAME[r["main_category"]].subcategories[r["subcategory"]]
        text = r["brand"] if rng.random() < 0.3 else None
        save_png(draw_item(size, shape, r["colour"], rng, text, pattern=r["pattern"]), out / r["image_uri"])
        items.append((shape, r["colour"], r["brand"], r["pattern"]))
        progress.update()
    spec = PhotoSpec(seed, size, items, slot["product"], slot["brand_text"], slot["defect"], slot["source"], DEFECTS)
    draw_photos(out, spec, workers, progress)
    progress.close()


def generate_logs(out: Path | str, start: str = "2026-11-16", days: int = 7, queries: int = 4_000,
                  seed: int = 7, products: int = 2_400, query_image_pool: int = 0,
                  image_size: int = 96, reupload_share: float = REUPLOAD_SHARE, workers: int = 0) -> dict:
    """Write the logs under ``out`` (tables replaced whole) and return a summary of what was planted.

    ``query_image_pool`` > 0 caps the distinct query photo files (0: one per upload);
    ``workers`` processes draw the photos (0: one per core; the files do not depend on it).
    """
    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        raise InputError(f"--start '{start}': expected a date like 2026-11-16") from None
    if days < 1 or queries < 1 or products < 80 or query_image_pool < 0:
        raise InputError("--days and --queries must be at least 1 (products at least 80)")
    if not 0 <= reupload_share < 1:
        raise InputError(f"reupload share {reupload_share}: expected a share from 0 up to (not including) 1")
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
        plan = plan_photos(int(q["is_image"].sum()), reupload_share, rng, query_image_pool)
        slot = plant_slots(catalogue, plan["file_source"], rng)
        traffic.attach_slots(q, slot, plan["query_file"], rng)
        draw_images(stage, catalogue, slot, image_size, rng, seed, workers)
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
