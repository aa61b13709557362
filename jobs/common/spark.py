"""The one place that builds a SparkSession, from :class:`SparkSettings`.

Local runs get the settings that matter on these machines (loopback address, the
running interpreter for workers, no partition-type inference so ``week=2026-W47``
stays a string); on a cluster the same code runs with ``INTENTMINE_SPARK__MASTER``.
"""

from __future__ import annotations

import logging
import os
import sys

from jobs.common.settings import SparkSettings


def get_spark(settings: SparkSettings | None = None):
    """Get or create the session. Imported lazily: importing a job must stay cheap."""
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    # py4j logs every connection it closes at INFO, the last one from a finaliser at exit.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if settings.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(settings.master)
        .appName(settings.app_name)
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.executor.memory", settings.executor_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # issue 13: the sample stage's per-row rules over the catalogue's many cast columns made
        # constraint propagation (inferring IS NOT NULL filters) exhaust the driver heap
        .config("spark.sql.constraintPropagation.enabled", "false")
    )
    for key, value in settings.extra_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
