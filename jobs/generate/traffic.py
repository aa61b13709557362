"""Who searched when, what they saw and what they clicked, as vectorised numpy arrays.

:func:`plan_queries` draws every query's user, time and kind; :func:`attach_slots`
gives each image query its photo; :func:`day_tables` turns one day of queries into
Arrow tables (events, impressions, clicks, ground truth) without a Python loop
over rows, so a million events take seconds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.generate.ids import ids
from jobs.generate.images import DEFECTS
from jobs.generate.scenarios import SCENARIO_BY_NAME, SCENARIO_NAMES

BOT_SHARE, TEXT_SHARE = 0.08, 0.07
DEVICES = np.array(["iOS", "Android", "web", "mini-program"])
HUMAN_AGENTS = np.array([
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Taobao/10.40",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S9180) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36 MiniProgram",
])
BOT_AGENTS = np.array([
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.32.3", "curl/8.11.0", "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari/537.36",
])
# Diurnal weights per UTC hour (shoppers in UTC+8 peak in the evening there).
HOURS = np.array([6, 5, 5, 6, 7, 7, 6, 5, 4, 3, 3, 4, 8, 12, 14, 13, 9, 5, 3, 2, 2, 2, 3, 4], float)
US = 1_000_000
P_CLICK = {"good": 0.70, "scenario": 0.10, "defect": 0.05, "bot": 0.01, "text": 0.5}
LATE_CLICK = 0.12


def day_us(day: dt.date, offset: int = 0) -> int:
    """Microseconds since the epoch at 00:00 UTC of ``day`` + ``offset`` days."""
    moment = dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(), tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * US


def plan_queries(n: int, first_day: dt.date, days: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Users, times, bot flags and query kinds of ``n`` queries, sorted by time."""
    n_bot = int(round(n * BOT_SHARE))
    n_human = n - n_bot
    n_users = max(n_human // 6, 10)
    user = (n_users * rng.random(n_human) ** 1.6).astype(np.int64)
    day = rng.integers(0, days, n_human)
    hour = rng.choice(24, n_human, p=HOURS / HOURS.sum())
    ts = day_us(first_day) + (day * 86_400 + hour * 3_600) * US + rng.integers(0, 3_600 * US, n_human)
    # Bots: kind 0 crawler agent + bursts, 1 browser agent + bursts, 2 crawler agent + slow pace.
    n_bot_users = max(n_bot // 120, 3) if n_bot else 0
    b_user = rng.integers(0, n_bot_users, n_bot) if n_bot else np.zeros(0, np.int64)
    b_kind = b_user % 3
    order = np.argsort(b_user, kind="stable")
    b_user, b_kind = b_user[order], b_kind[order]
    gap = np.where(b_kind == 2, rng.integers(300, 1_800, n_bot), rng.integers(1, 4, n_bot)) * US
    first = np.r_[True, b_user[1:] != b_user[:-1]] if n_bot else np.zeros(0, bool)
    begin = day_us(first_day) + rng.integers(0, days * 86_400 - 7_200, n_bot_users) * US
    steps = np.cumsum(gap) - np.repeat(np.cumsum(gap)[first] - gap[first], np.diff(np.r_[np.flatnonzero(first), n_bot]))
    b_ts = begin[b_user] + steps if n_bot else np.zeros(0, np.int64)
    b_ts = np.minimum(b_ts, day_us(first_day, days) - 1)
    q = {
        "ts": np.r_[ts, b_ts],
        "user": np.r_[user, n_users + b_user],
        "is_bot": np.r_[np.zeros(n_human, bool), np.ones(n_bot, bool)],
        "bot_kind": np.r_[np.full(n_human, -1), b_kind],
        "is_image": np.r_[rng.random(n_human) >= TEXT_SHARE, np.ones(n_bot, bool)],
    }
    order = np.argsort(q["ts"], kind="stable")
    return {k: v[order] for k, v in q.items()}


def attach_slots(q: dict, slot: dict[str, np.ndarray], query_file: np.ndarray, rng: np.random.Generator) -> None:
    """Give image queries their photo file (``query_file``, in time order) and what it shows."""
    n, n_slots = len(q["ts"]), len(slot["product"])
    image_rows = np.flatnonzero(q["is_image"])
    q_slot = np.full(n, -1, np.int64)
    q_slot[image_rows] = query_file
    q["slot"] = q_slot
    has = q_slot >= 0
    top = int(slot["product"].max(initial=0)) + 1
    q["product"] = np.where(has, slot["product"][np.maximum(q_slot, 0)] if n_slots else 0, rng.integers(0, top, n))
    q["scenario"] = np.where(has, slot["scenario"][np.maximum(q_slot, 0)] if n_slots else 0, 0)
    q["defect"] = np.where(has, slot["defect"][np.maximum(q_slot, 0)] if n_slots else 0, -1)
    root = np.where(slot["source"] >= 0, slot["source"], np.arange(n_slots))
    q_root = np.where(has, root[np.maximum(q_slot, 0)] if n_slots else 0, -1)
    roots, first_at = np.unique(q_root[image_rows], return_index=True)
    first_query = np.full(n_slots, -1, np.int64)
    first_query[roots] = image_rows[first_at]
    dup_of = np.where(has, first_query[np.maximum(q_root, 0)], -1)
    q["dup_of"] = np.where(dup_of == np.arange(n), -1, dup_of)
    kind = np.where(q["is_bot"], "bot", np.where(~q["is_image"], "text",
                    np.where(q["defect"] >= 0, "defect", np.where(q["scenario"] > 0, "scenario", "good"))))
    p = np.vectorize(P_CLICK.get)(kind)
    u = rng.random(n)
    q["click_delay_us"] = np.where(u < p, rng.uniform(0.5, 30.0, n) * US,
                                   np.where(u < p + (1 - p) * LATE_CLICK, rng.uniform(31, 1_200, n) * US, -1)
                                   ).astype(np.int64)
    q["click_rank"] = rng.integers(1, 4, n)
    q["k"] = rng.integers(8, 21, n)


def _retrieve(q: dict, sel: np.ndarray, catalogue: pa.Table, rng: np.random.Generator):
    """Impressions for the queries ``sel``: product indices and similarities, ranked."""
    sub = catalogue.column("subcategory").to_numpy(zero_copy_only=False)
    price = catalogue.column("price").to_numpy()
    sub_codes, sub_idx = np.unique(sub, return_inverse=True)
    order = np.lexsort((price, sub_idx))
    starts = np.searchsorted(sub_idx[order], np.arange(len(sub_codes)))
    sizes = np.bincount(sub_idx, minlength=len(sub_codes))
    k = q["k"][sel]
    owner = np.repeat(np.arange(len(sel)), k)
    target = q["product"][sel][owner]
    rules = np.array([SCENARIO_BY_NAME[s].retrieval if s in SCENARIO_BY_NAME else "same" for s in SCENARIO_NAMES])
    rule = rules[q["scenario"][sel][owner]]
    p_same = np.select([rule == "mixed", rule == "noisy"], [0.25, 0.4], 0.9)
    frac = np.where(rule == "low_price", 0.5, 1.0)
    t_sub = sub_idx[target]
    m = len(owner)

    def pick(mask):
        return order[starts[t_sub[mask]] + (rng.random(mask.sum()) * sizes[t_sub[mask]] * frac[mask]).astype(np.int64)]

    same = rng.random(m) < p_same
    idx = rng.integers(0, catalogue.num_rows, m)
    idx[same] = pick(same)
    for field in ("colour", "brand", "spec_model", "pattern"):
        # an item without a pattern is drawn plain, so it looks like one whose pattern is "plain"
        values = pc.fill_null(catalogue.column(field), "plain" if field == "pattern" else "").to_numpy(
            zero_copy_only=False)
        must_differ = same & (rule == f"differ:{field}")
        for _ in range(8):
            clash = must_differ & (values[idx] == values[target])
            if not clash.any():
                break
            idx[clash] = pick(clash)
    first_slot = np.r_[0, np.cumsum(k)[:-1]]
    show_target = (rule[first_slot] == "same") & (rng.random(len(sel)) < 0.6)
    idx[first_slot[show_target]] = target[first_slot[show_target]]
    sim = np.where(same, rng.normal(0.82, 0.05, m), rng.normal(0.6, 0.08, m))
    sim[first_slot[show_target]] = rng.uniform(0.9, 0.98, show_target.sum())
    sim = np.clip(sim, 0.05, 0.995).astype(np.float32)
    ranked = np.lexsort((-sim, owner))
    rank = np.arange(m) - np.repeat(first_slot, k) + 1
    return owner, idx[ranked], sim[ranked], rank.astype(np.int32), first_slot


def day_tables(q: dict, sel: np.ndarray, query_ids: pa.Array, catalogue: pa.Table,
               rng: np.random.Generator) -> dict[str, pa.Table]:
    """Arrow tables for the queries ``sel`` (one day)."""
    qid = query_ids.take(pa.array(sel))
    user = q["user"][sel]
    n_human_users = int(q["user"][~q["is_bot"]].max(initial=0)) + 1
    bot_kind = q["bot_kind"][sel]
    agent = np.where(bot_kind < 0, HUMAN_AGENTS[user % len(HUMAN_AGENTS)],
                     np.where(bot_kind == 1, HUMAN_AGENTS[2], BOT_AGENTS[user % len(BOT_AGENTS)]))
    is_image = q["is_image"][sel]
    image_uri = pc.if_else(pa.array(is_image), pc.binary_join_element_wise(
        "images/queries/img", pc.utf8_lpad(pa.array(np.maximum(q["slot"][sel], 0)).cast(pa.string()), 7, "0"),
        ".jpg", ""), pa.scalar(None, pa.string()))
    titles = catalogue.column("title")
    text = pc.if_else(pa.array(is_image), pa.scalar(None, pa.string()), titles.take(pa.array(q["product"][sel])))
    ip = pc.binary_join_element_wise("10.", pa.array((user // 65_536) % 256).cast(pa.string()), ".",
                                     pa.array((user // 256) % 256).cast(pa.string()), ".",
                                     pa.array(user % 256).cast(pa.string()), "")
    ts = pa.array(q["ts"][sel], pa.timestamp("us", tz="UTC"))
    events = pa.table({
        "query_id": qid, "user_id": ids("u", user, 7), "ts": ts,
        "query_type": pa.array(np.where(is_image, "image", "text")), "image_uri": image_uri, "text": text,
        "device": pa.array(np.where(q["is_bot"][sel], "web", DEVICES[user % len(DEVICES)])),
        "user_agent": pa.array(agent), "ip": ip,
    })
    replay = np.flatnonzero((rng.random(len(sel)) < 0.003) & (user < n_human_users))
    events = pa.concat_tables([events, events.take(pa.array(replay))]).sort_by([("ts", "ascending")])
    owner, prod, sim, rank, first_slot = _retrieve(q, sel, catalogue, rng)
    pid = catalogue.column("product_id")
    impressions = pa.table({"query_id": qid.take(pa.array(owner)), "rank": pa.array(rank, pa.int32()),
                            "product_id": pid.take(pa.array(prod)), "similarity": pa.array(sim)})
    delay = q["click_delay_us"][sel]
    clicked = np.flatnonzero(delay >= 0)
    at = first_slot[clicked] + np.minimum(q["click_rank"][sel][clicked], q["k"][sel][clicked]) - 1
    clicks = pa.table({"query_id": qid.take(pa.array(clicked)), "product_id": pid.take(pa.array(prod[at])),
                       "ts": pa.array(q["ts"][sel][clicked] + delay[clicked], pa.timestamp("us", tz="UTC"))})
    return {"search_events": events, "impressions": impressions, "clicks": clicks,
            "ground_truth": _truth(q, sel, qid, query_ids, catalogue, SCENARIO_NAMES)}


def _truth(q, sel, qid, query_ids, catalogue, names) -> pa.Table:
    """What was planted for each query of ``sel``."""
    target = pa.array(q["product"][sel])
    cols = {f: catalogue.column(f).take(target) for f in
            ("main_category", "colour", "brand", "spec_model", "material", "pattern", "subcategory", "price")}
    scen_names = np.array(names)[q["scenario"][sel]]
    info_field = np.array([SCENARIO_BY_NAME[s].info_field if s in SCENARIO_BY_NAME else "" for s in names])
    field = info_field[q["scenario"][sel]]
    text = lambda c: np.array(c.to_pylist(), dtype=object)
    info = np.select(
        [field == "colour", field == "brand", field == "spec_model", field == "material",
         field == "pattern", field == "category", field == "price_band", field == ""],
        [text(cols["colour"]), text(cols["brand"]), text(cols["spec_model"]), text(cols["material"]),
         text(cols["pattern"]), text(cols["main_category"]), "high-end", None], default=field.astype(object))
    action = np.array([SCENARIO_BY_NAME[s].action if s in SCENARIO_BY_NAME else None for s in names],
                      dtype=object)[q["scenario"][sel]]
    band = np.where(np.isin(scen_names, ["wrong_price_band", "jewellery_material_price"]), "high", None)
    dup = q["dup_of"][sel]
    return pa.table({
        "query_id": qid, "user_is_bot": pa.array(q["is_bot"][sel]),
        "image_defect": pa.array([DEFECTS[d] if d >= 0 else None for d in q["defect"][sel]], pa.string()),
        "near_duplicate_of": pc.if_else(pa.array(dup >= 0), query_ids.take(pa.array(np.maximum(dup, 0))),
                                        pa.scalar(None, pa.string())),
        "scenario": pa.array([None if s == "none" else s for s in scen_names], pa.string()),
        "intended_category": cols["main_category"], "intended_colour": cols["colour"],
        "intended_brand": cols["brand"], "intended_price_band": pa.array(band, pa.string()),
        "expected_action": pa.array(action, pa.string()),
        "expected_info": pa.array(info, pa.string()),
    })


def summarise(q: dict) -> dict:
    """Planted shares over all events (rounded), for the summary and the tests."""
    n = max(len(q["ts"]), 1)
    image = q["is_image"]
    good = image & ~q["is_bot"]
    return {
        "bot_share": round(float(q["is_bot"].mean()), 4),
        "text_share": round(float((~image).sum() / n), 4),
        "defect_share": round(float((q["defect"] >= 0)[good].mean()) if good.any() else 0.0, 4),
        "near_duplicate_share": round(float((q["dup_of"] >= 0)[image].mean()) if image.any() else 0.0, 4),
        "scenario_share": round(float((q["scenario"] > 0)[good].mean()) if good.any() else 0.0, 4),
        "no_click_share": round(float(((q["click_delay_us"] < 0) | (q["click_delay_us"] > 30 * US))[image].mean())
                                if image.any() else 0.0, 4),
        "late_click_share": round(float((q["click_delay_us"] > 30 * US).mean()), 4),
    }
