"""Analyse on Spark: samples spread over partitions, each partition analysed by ``mapInPandas``.

Every executor builds its own analyst once per partition: for the ``rules`` backend
that is the feature extractor and rules; for ``vllm`` its own async clients, so many
executors share a pool of vLLM servers with ``models.concurrency`` requests in flight
each (and the checkpoint file must sit on storage every executor sees). The usual
prices per subcategory are measured once on the driver over the whole week and
shipped with the task, so a partition's results do not depend on how rows were split.
For ``rules``, the colour of each distinct product photo is measured once per week
by its own Spark job (:func:`product_colours_on_spark`) and shipped the same way,
so no partition decodes a product photo another partition already measured.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from jobs.analyse.features import brand_vocabulary, reference_prices
from jobs.analyse.results import QueryResult, StageOutput

log = logging.getLogger("intentmine")
RESULT_SCHEMA = "query_id string, result_json string"


def _encode(result: QueryResult) -> str:
    return json.dumps(dataclasses.asdict(result), ensure_ascii=False, default=str)


def _decode(text: str) -> QueryResult:
    data = json.loads(text)
    return QueryResult(data["query_id"], data["main_category"], StageOutput(**data["vlm"]),
                       StageOutput(**data["llm"]), data.get("extra") or {})


def partition_analyser(logs: str, root: str, week: str, settings_json: str, references: dict[str, float],
                       product_colours: dict[str, str] | None = None, passed=None,
                       brands: dict[str, tuple[str, ...]] | None = None):
    """The ``mapInPandas`` body: batches of sample JSON -> batches of result JSON.

    ``passed``: an accumulator that counts the samples that went through the analyst.
    """

    def analyse(batches):
        import pandas as pd

        from jobs.common.settings import Settings

        settings = Settings.model_validate_json(settings_json)
        analyst = None
        for batch in batches:
            samples = [json.loads(t) for t in batch["sample_json"]]
            if passed is not None:
                passed.add(len(samples))
            if settings.models.backend == "vllm":
                from jobs.analyse.vllm_runner import analyse_vllm

                results, _ = analyse_vllm(samples, Path(logs), Path(root), week, settings, references)
            else:
                from jobs.analyse.rules_runner import RulesAnalyst

                analyst = analyst or RulesAnalyst(logs, settings, references, product_colours, brands)
                results = [analyst(s) for s in samples]
            yield pd.DataFrame({"query_id": [r.query_id for r in results],
                                "result_json": [_encode(r) for r in results]})

    return analyse


def analyse_on_spark(samples: list[dict], logs: Path, settings, root: Path | None = None,
                     week: str = "") -> list[QueryResult]:
    """Analyse ``samples`` on ``models.partitions`` Spark partitions; results in query order.

    Sorted on the driver: a Spark sort after ``mapInPandas`` would run the analyst twice.
    """
    from jobs.common.spark import get_spark

    if not samples:
        return []
    spark = get_spark(settings.spark)
    rows = [(s["query_id"], json.dumps(s, ensure_ascii=False, default=str)) for s in samples]
    frame = spark.createDataFrame(rows, "query_id string, sample_json string")
    frame = frame.repartition(settings.models.partitions, "query_id")
    colours = product_colours_on_spark(spark, samples, logs, settings) if settings.models.backend == "rules" else {}
    passed = spark.sparkContext.accumulator(0)
    body = partition_analyser(str(logs), str(root or settings.root), week, settings.model_dump_json(),
                              reference_prices(samples), colours, passed, brand_vocabulary(samples))
    out = sorted(frame.mapInPandas(body, RESULT_SCHEMA).collect(), key=lambda r: r["query_id"])
    log.info("analyse on spark: %d queries, %d partitions, %d passed through the analyst",
             len(samples), settings.models.partitions, passed.value)
    return [_decode(r["result_json"]) for r in out]


def product_colours_on_spark(spark, samples: list[dict], logs: Path, settings) -> dict[str, str]:
    """image_uri -> colour of every distinct product photo of the week, one Spark job, one decode each."""
    from jobs.analyse.rules_runner import product_photos

    photos = product_photos(samples)
    if not photos:
        return {}
    frame = spark.createDataFrame([(p["image_uri"], p["product_id"]) for p in photos],
                                  "image_uri string, product_id string")
    frame = frame.repartition(settings.models.partitions, "image_uri")
    logs_text, settings_json = str(logs), settings.model_dump_json()

    def measure(batches):
        import pandas as pd

        from jobs.analyse.rules_runner import product_colour_table
        from jobs.common.settings import Settings

        own = Settings.model_validate_json(settings_json)
        for batch in batches:
            table = product_colour_table(batch.to_dict("records"), logs_text, own)
            yield pd.DataFrame({"image_uri": list(table), "colour": list(table.values())})

    rows = frame.mapInPandas(measure, "image_uri string, colour string").collect()
    return {r["image_uri"]: r["colour"] for r in rows}
