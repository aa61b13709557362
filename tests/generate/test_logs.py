"""The log generator: deterministic per seed, valid tables, planted shares in their documented ranges."""

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageFilter

from core.errors import InputError
from jobs.common.storage import read_log_table
from jobs.generate.catalogue import CATEGORIES
from jobs.generate.logs import generate_logs
from jobs.generate.scenarios import SCENARIO_BY_NAME

SMALL = dict(queries=600, products=160, query_image_pool=600, image_size=48)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a, b, c = (generate_logs(tmp_path / n, seed=s, **SMALL) for n, s in (("a", 5), ("b", 5), ("c", 6)))
    assert a["search_events"] == b["search_events"]
    da, db, dc = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert da == db and len(da) > 100
    assert da != dc


def test_rerun_into_the_same_folder_replaces_tables(tmp_path):
    generate_logs(tmp_path, seed=1, **SMALL)
    generate_logs(tmp_path, seed=1, **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clicks", "ground_truth", "images", "impressions", "products", "search_events"]
    assert read_log_table(tmp_path, "search_events").num_rows < 1.02 * SMALL["queries"]


def test_every_table_validates_and_refers_to_real_things(small_logs):
    events = read_log_table(small_logs, "search_events")
    products = read_log_table(small_logs, "products")
    impressions = read_log_table(small_logs, "impressions")
    clicks = read_log_table(small_logs, "clicks")
    truth = read_log_table(small_logs, "ground_truth")
    assert set(products.column("main_category").to_pylist()) == {c.name for c in CATEGORIES}
    assert pc.all(pc.is_in(impressions.column("product_id"), products.column("product_id"))).as_py()
    assert pc.all(pc.is_in(clicks.column("query_id"), events.column("query_id"))).as_py()
    assert set(truth.column("query_id").to_pylist()) == set(events.column("query_id").to_pylist())
    uris = set(events.filter(pc.field("query_type") == "image").column("image_uri").to_pylist())
    uris |= set(products.column("image_uri").to_pylist())
    assert all((small_logs / u).is_file() for u in uris)
    ranks = impressions.group_by("query_id").aggregate([("rank", "max"), ("rank", "count")])
    assert pc.all(pc.equal(ranks.column("rank_max"), ranks.column("rank_count"))).as_py()
    assert 8 <= pc.min(ranks.column("rank_count")).as_py() and pc.max(ranks.column("rank_count")).as_py() <= 20


def _shares(logs: Path) -> dict[str, float]:
    ev = read_log_table(logs, "search_events").to_pandas().drop_duplicates("query_id")
    truth = read_log_table(logs, "ground_truth").to_pandas().set_index("query_id")
    clicks = read_log_table(logs, "clicks").to_pandas()
    ev = ev.join(truth, on="query_id")
    img = ev[ev.query_type == "image"]
    fast = clicks.merge(ev[["query_id", "ts"]], on="query_id", suffixes=("", "_q"))
    fast = fast[(fast.ts - fast.ts_q).dt.total_seconds().between(0, 30)]
    human_img = img[~img.user_is_bot]
    return {
        "bot": ev.user_is_bot.mean(),
        "no_click": 1 - img.query_id.isin(fast.query_id).mean(),
        "defect": human_img.image_defect.notna().mean(),
        "near_dup": img.near_duplicate_of.notna().mean(),
        "scenario": human_img.scenario.notna().mean(),
    }


def test_planted_shares_are_in_their_documented_ranges(small_logs):
    s = _shares(small_logs)
    assert 0.06 <= s["bot"] <= 0.10
    assert 0.50 <= s["no_click"] <= 0.75
    assert 0.04 <= s["defect"] <= 0.12
    assert 0.24 <= s["near_dup"] <= 0.36  # the default re-upload share, 30 %
    assert 0.35 <= s["scenario"] <= 0.60


def test_bots_are_fast_or_announce_themselves(small_logs):
    ev = read_log_table(small_logs, "search_events").to_pandas()
    bots = set(read_log_table(small_logs, "ground_truth").to_pandas().query("user_is_bot").query_id)
    ev["bot"] = ev.query_id.isin(bots)
    crawler = ev.user_agent.str.contains("bot|spider|python-requests|curl|HeadlessChrome", case=False)
    per_min = ev.sort_values("ts").groupby("user_id").ts.apply(
        lambda t: t.diff().dt.total_seconds().median() if len(t) > 1 else float("inf"))
    fast_users = set(per_min[per_min < 5].index)
    assert not crawler[~ev.bot].any()
    assert (crawler | ev.user_id.isin(fast_users))[ev.bot].all()


def test_near_duplicates_point_to_an_earlier_query_with_a_similar_photo(small_logs):
    ev = read_log_table(small_logs, "search_events").to_pandas().drop_duplicates("query_id").set_index("query_id")
    truth = read_log_table(small_logs, "ground_truth").to_pandas().dropna(subset=["near_duplicate_of"])
    assert len(truth) > 20
    for row in truth.head(10).itertuples():
        later, earlier = ev.loc[row.query_id], ev.loc[row.near_duplicate_of]
        assert earlier.ts <= later.ts
        # blurred first: a pattern's stripes shift with the crop, the item's shape and colour do not
        a, b = (np.asarray(Image.open(small_logs / uri).convert("L").filter(ImageFilter.GaussianBlur(6))
                           .resize((16, 16)), float) for uri in (earlier.image_uri, later.image_uri))
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8


def laplacian_variance(img: np.ndarray) -> float:
    return float((4 * img[1:-1, 1:-1] - img[:-2, 1:-1] - img[2:, 1:-1] - img[1:-1, :-2] - img[1:-1, 2:]).var())


def test_defective_photos_are_measurably_defective(small_logs):
    ev = read_log_table(small_logs, "search_events").to_pandas().drop_duplicates("query_id").set_index("query_id")
    truth = read_log_table(small_logs, "ground_truth").to_pandas()
    seen = set()
    for row in truth.dropna(subset=["image_defect"]).itertuples():
        img = np.asarray(Image.open(small_logs / ev.loc[row.query_id].image_uri).convert("L"), float)
        check = {"tiny": min(img.shape) < 40, "dark": img.mean() < 50, "bright": img.mean() > 215,
                 "uniform": img.std() < 6, "blurred": laplacian_variance(img) < 20}
        assert check[row.image_defect], (row.query_id, row.image_defect)
        seen.add(row.image_defect)
    assert len(seen) >= 4


@pytest.mark.parametrize("scenario, field", [("wrong_colour", "colour"), ("spec_mismatch", "spec_model")])
def test_scenarios_skew_the_results_they_claim_to(small_logs, scenario, field):
    truth = read_log_table(small_logs, "ground_truth").to_pandas()
    imps = read_log_table(small_logs, "impressions").to_pandas()
    products = read_log_table(small_logs, "products").to_pandas().set_index("product_id")
    picked = truth[truth.scenario == scenario]
    if picked.empty:
        pytest.fail(f"no {scenario} query was planted in the shared logs")
    imps = imps[imps.query_id.isin(picked.query_id)].join(products[[field, "main_category"]], on="product_id")
    imps = imps.merge(picked[["query_id", "intended_category", "expected_info"]], on="query_id")
    same_kind = imps[imps.main_category == imps.intended_category]
    assert (same_kind[field] != same_kind.expected_info).mean() > 0.95
    assert SCENARIO_BY_NAME[scenario].action in set(picked.expected_action)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(InputError, match="--start 'yesterday'"):
        generate_logs(tmp_path / "x", start="yesterday")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        generate_logs(tmp_path / "file", **SMALL)


def test_partitions_are_utc_days(small_logs):
    for part in (small_logs / "search_events").glob("date=*/*.parquet"):
        day = part.parent.name.removeprefix("date=")
        ts = pq.read_table(part).column("ts")
        assert {t.date().isoformat() for t in ts.to_pylist()} == {day}
