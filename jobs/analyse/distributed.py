"""Analyse on Spark: samples spread over partitions, each partition analysed by ``mapInPandas``.

Every executor builds its own analyst once per partition: for the ``rules`` backend
that is the feature extractor and rules; for ``vllm`` its own async clients, so many
executors share a pool of vLLM servers with ``models.concurrency`` requests in flight
each (and the checkpoint file must sit on storage every executor sees). The usual
prices per subcategory are measured once on the driver over the whole week and
shipped with the task, so a partition's results do not depend on how rows were split.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from jobs.analyse.features import brand_vocabulary, reference_prices
from jobs.analyse.results import QueryResult, StageOutput

RESULT_SCHEMA = "query_id string, result_json string"


def _encode(result: QueryResult) -> str:
    return json.dumps(dataclasses.asdict(result), ensure_ascii=False, default=str)


def _decode(text: str) -> QueryResult:
    data = json.loads(text)
    return QueryResult(data["query_id"], data["main_category"], StageOutput(**data["vlm"]),
                       StageOutput(**data["llm"]), data.get("extra") or {})


def partition_analyser(logs: str, root: str, week: str, settings_json: str, references: dict[str, float],
                       brands: dict[str, tuple[str, ...]] | None = None):
    """The ``mapInPandas`` body: batches of sample JSON -> batches of result JSON."""

    def analyse(batches):
        import pandas as pd

        from jobs.common.settings import Settings

        settings = Settings.model_validate_json(settings_json)
        for batch in batches:
            samples = [json.loads(t) for t in batch["sample_json"]]
            if settings.models.backend == "vllm":
                from jobs.analyse.vllm_runner import analyse_vllm

                results, _ = analyse_vllm(samples, Path(logs), Path(root), week, settings, references)
            else:
                from jobs.analyse.rules_runner import RulesAnalyst

                analyst = RulesAnalyst(logs, settings, references, brands)
                results = [analyst(s) for s in samples]
            yield pd.DataFrame({"query_id": [r.query_id for r in results],
                                "result_json": [_encode(r) for r in results]})

    return analyse


def analyse_on_spark(samples: list[dict], logs: Path, settings, root: Path | None = None,
                     week: str = "") -> list[QueryResult]:
    """Analyse ``samples`` on ``models.partitions`` Spark partitions; results in query order."""
    from jobs.common.spark import get_spark

    if not samples:
        return []
    spark = get_spark(settings.spark)
    rows = [(s["query_id"], json.dumps(s, ensure_ascii=False, default=str)) for s in samples]
    frame = spark.createDataFrame(rows, "query_id string, sample_json string")
    frame = frame.repartition(settings.models.partitions, "query_id")
    body = partition_analyser(str(logs), str(root or settings.root), week, settings.model_dump_json(),
                              reference_prices(samples), brand_vocabulary(samples))
    out = frame.mapInPandas(body, RESULT_SCHEMA).orderBy("query_id").collect()
    return [_decode(r["result_json"]) for r in out]
