"""Each image-quality rule on drawn images, scored inside Spark."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.common.images import ImagePolicy
from jobs.common.settings import SampleSettings
from jobs.sample.filters import flag_no_click
from jobs.sample.quality import distinct_images, image_scores, score_image

from .conftest import at, draw, event
from .test_noclick import EVENT_SCHEMA

KINDS = ("ok", "tiny", "blurred", "dark", "bright", "uniform")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    for kind in KINDS:
        draw(logs / "images" / "queries" / f"{kind}.png", kind)
    (logs / "images" / "queries" / "broken.png").write_bytes(b"not a png")
    return logs


def test_scores_of_drawn_images_fall_on_the_right_side_of_each_threshold(drawn):
    s = SampleSettings()
    policy = ImagePolicy(roots=(str(drawn),))
    scores = {k: score_image(policy, f"images/queries/{k}.png", 512) for k in KINDS}
    assert scores["ok"]["blur_score"] > 10 * s.blur_min_laplacian_var
    assert s.dark_max_mean < scores["ok"]["brightness"] < s.bright_min_mean
    assert scores["ok"]["contrast"] > s.uniform_max_std
    assert scores["tiny"]["width"] == scores["tiny"]["height"] == 32
    assert scores["blurred"]["blur_score"] < s.blur_min_laplacian_var
    assert scores["dark"]["brightness"] < s.dark_max_mean
    assert scores["bright"]["brightness"] > s.bright_min_mean
    assert scores["uniform"]["contrast"] < s.uniform_max_std


def test_large_images_are_shrunk_before_scoring_but_keep_their_size(tmp_path):
    draw(tmp_path / "big.png", "ok", size=300)
    scores = score_image(ImagePolicy(roots=(str(tmp_path),)), "big.png", max_side=100)
    assert (scores["width"], scores["height"]) == (300, 300)
    assert scores["blur_score"] > 0


def test_missing_and_unreadable_images_get_an_error_not_a_crash(spark, drawn):
    images = spark.createDataFrame([("images/queries/nope.png",), ("images/queries/broken.png",),
                                    ("images/queries/ok.png",)], "image_uri string")
    rows = {r["image_uri"]: r for r in image_scores(images, ImagePolicy(roots=(str(drawn),)), 512).collect()}
    assert rows["images/queries/nope.png"]["image_error"] == "image file not found"
    assert rows["images/queries/nope.png"]["width"] is None
    assert rows["images/queries/broken.png"]["image_reason"] == "image_unreadable"
    assert rows["images/queries/broken.png"]["image_error"].startswith("undecodable image")
    assert rows["images/queries/ok.png"]["image_error"] is None
    assert rows["images/queries/ok.png"]["width"] == 96


def test_each_image_rule_drops_its_query_with_its_reason(spark, drawn):
    kinds = KINDS + ("broken", "nope")
    rows = [event(f"q-{k}", at(60 * i), user_id=f"u{i}", image_uri=f"images/queries/{k}.png")
            for i, k in enumerate(kinds)]
    queries = spark.createDataFrame(rows, EVENT_SCHEMA)
    flagged = flag_no_click(queries, queries, ImagePolicy(roots=(str(drawn),)), SampleSettings())
    expected = spark.createDataFrame([
        ("q-ok", None), ("q-tiny", "image_tiny"), ("q-blurred", "image_blurred"),
        ("q-dark", "image_dark"), ("q-bright", "image_bright"), ("q-uniform", "image_uniform"),
        ("q-broken", "image_unreadable"), ("q-nope", "image_unreadable"),
    ], "query_id string, reason string")
    assertDataFrameEqual(flagged.select("query_id", "reason"), expected)
    detail = {r["query_id"]: r["detail"] for r in flagged.collect()}
    assert detail["q-tiny"] == "32x32 px (min side 64)"
    assert detail["q-nope"] == "image file not found"


def test_a_rule_can_be_switched_off_by_its_threshold(spark, drawn):
    rows = [event("q-dark", at(0), image_uri="images/queries/dark.png")]
    queries = spark.createDataFrame(rows, EVENT_SCHEMA)
    loose = SampleSettings(dark_max_mean=0, blur_min_laplacian_var=0, uniform_max_std=0)
    flagged = flag_no_click(queries, queries, ImagePolicy(roots=(str(drawn),)), loose).collect()
    assert flagged[0]["reason"] is None
    assert flagged[0]["brightness"] < 40


def test_bot_queries_are_dropped_before_their_pixels_are_read(spark, drawn):
    rows = [event("q-bot", at(0), image_uri="images/queries/nope.png", user_agent="curl/8.4.0")]
    queries = spark.createDataFrame(rows, EVENT_SCHEMA)
    (row,) = flag_no_click(queries, queries, ImagePolicy(roots=(str(drawn),)), SampleSettings()).collect()
    assert (row["reason"], row["reasons"], row["width"]) == ("bot_user_agent", ["bot_user_agent"], None)


def test_photos_are_read_on_every_core_even_when_the_shuffle_would_coalesce(spark, drawn):
    """The session has one shuffle partition; the distinct photos still spread over both cores."""
    from pyspark.sql import functions as F

    uris = [(f"images/queries/{k}.png",) for k in KINDS] * 3 + [(f"images/queries/more{i}.png",) for i in range(40)]
    spread = distinct_images(spark.createDataFrame(uris, "image_uri string"))
    per_partition = {r["p"]: r["n"] for r in spread.groupBy(F.spark_partition_id().alias("p")).count()
                     .withColumnRenamed("count", "n").collect()}
    assert spread.rdd.getNumPartitions() == spark.sparkContext.defaultParallelism == 2
    assert len(per_partition) == 2 and sum(per_partition.values()) == len(KINDS) + 40
