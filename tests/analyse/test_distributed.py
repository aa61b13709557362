"""Analyse on Spark partitions (mapInPandas) gives exactly the rows of the local run."""

from __future__ import annotations

from jobs.cli import main
from jobs.common.storage import read_table
from stage_data import samples_from_logs, write_samples

WEEK = "2026-W47"


def test_spark_partitions_match_the_local_run(tmp_path, small_logs, monkeypatch):
    samples = samples_from_logs(small_logs, limit=40)
    local, spark = tmp_path / "local", tmp_path / "spark"
    for root in (local, spark):
        write_samples(root, WEEK, samples)
    args = ["-q", "analyse", "--week", WEEK, "--logs", str(small_logs), "--backend", "rules", "--root"]
    assert main(args + [str(local)]) == 0
    monkeypatch.setenv("INTENTMINE_MODELS__PARTITIONS", "3")
    assert main(args + [str(spark)]) == 0
    for table in ("analyses", "signals"):
        a = read_table(local, table, WEEK).drop(["run_id"])
        b = read_table(spark, table, WEEK).drop(["run_id"])
        assert a.equals(b), table


def test_each_query_passes_through_the_analyst_once(small_logs, caplog):
    """A sort after mapInPandas made Spark run the analyst once to plan and once to produce."""
    import logging

    from jobs.analyse.distributed import analyse_on_spark
    from jobs.common.settings import Settings

    samples = samples_from_logs(small_logs, limit=30)
    settings = Settings(models={"backend": "rules", "partitions": 3},
                        spark={"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 2})
    with caplog.at_level(logging.INFO, logger="intentmine"):
        results = analyse_on_spark(samples, small_logs, settings)
    assert [r.query_id for r in results] == sorted(s["query_id"] for s in samples)
    line = next(r.getMessage() for r in caplog.records if "passed through the analyst" in r.getMessage())
    assert line.endswith(f": {len(samples)} queries, 3 partitions, {len(samples)} passed through the analyst")
