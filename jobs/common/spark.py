"""The one place that builds a SparkSession, from :class:`SparkSettings`.

What is already set wins over the settings' defaults: a session that exists, and
whatever ``spark-submit`` was given (``--master``, ``--executor-memory``, ``--conf``),
are never overridden; the settings fill in only what nothing else set.
``intentmine run`` on a cluster sets ``INTENTMINE_SPARK__MASTER`` instead.

Local runs get the settings that matter on these machines (loopback address, the
running interpreter for workers, no partition-type inference so ``week=2026-W47``
stays a string). On a cluster the project ships itself: the installed packages are
zipped once (code and package data) and added with ``addPyFile``, so executors need
only the third-party dependencies (``executor_requirements``), not the project. The
executors' interpreter is ``spark.pyspark.python`` (a ``--conf``, ``extra_conf`` or
``PYSPARK_PYTHON``). A cluster that gives the application no executor within
``executor_wait_s`` is one clear :class:`InputError`, not an endless wait.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from core.errors import InputError
from jobs.common.settings import SparkSettings

log = logging.getLogger("intentmine")

# The import packages the executors run (the DAG package stays on the scheduler).
PACKAGES = ("core", "schemas", "clustering", "prompts", "rules", "jobs")
DATA_SUFFIXES = (".py", ".yaml", ".yml", ".txt", ".html", ".json")
# What an executor's Python needs besides the shipped zip (the sample and analyse stages' imports).
executor_requirements = ("numpy", "pandas", "pyarrow", "pillow", "pydantic", "pydantic-settings", "pyyaml", "scipy", "httpx")
# Keys spark-submit (or a running session) owns; the settings only fill them in when absent.
STATIC_KEYS = ("spark.master", "spark.app.name", "spark.driver.memory", "spark.executor.memory")


def get_spark(settings: SparkSettings | None = None):
    """Get or create the session. Imported lazily: importing a job must stay cheap."""
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    # py4j logs every connection it closes at INFO, the last one from a finaliser at exit.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    given = inherited_conf()
    wanted = {"spark.master": settings.master, "spark.app.name": settings.app_name,
              "spark.driver.memory": settings.driver_memory,
              "spark.executor.memory": settings.executor_memory} | settings.extra_conf
    master = given.get("spark.master", wanted["spark.master"])
    local = master.startswith("local")
    _set_python(given.get("spark.pyspark.python") or wanted.get("spark.pyspark.python"), local)
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in wanted.items():
        if key not in given:
            builder = builder.config(key, value)
    for key, value in {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the sample stage's per-row rules over the catalogue's many cast columns made constraint
        # propagation (inferring IS NOT NULL filters) exhaust the driver heap
        "spark.sql.constraintPropagation.enabled": "false",
    }.items():
        if key not in given and key not in settings.extra_conf:
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    if not local:
        ship_project(spark.sparkContext)
        wait_for_executors(spark, master, settings.executor_wait_s)
    return spark


def _submitted() -> bool:
    """True inside a process that ``spark-submit`` started (its JVM is already running)."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT"))


def inherited_conf() -> dict[str, str]:
    """Spark settings already decided: the running context's, or those spark-submit was given."""
    from pyspark import SparkConf, SparkContext

    active = SparkContext._active_spark_context
    if active is not None:
        conf = dict(active.getConf().getAll())
        return {k: v for k, v in conf.items() if k in STATIC_KEYS or k == "spark.pyspark.python"}
    if not _submitted():
        return {}
    SparkContext._ensure_initialized()  # connects to spark-submit's JVM; its system properties hold the flags
    return dict(SparkConf().getAll())


def _set_python(python: str | None, local: bool) -> None:
    """The executors' interpreter: PySpark takes it from the driver's ``PYSPARK_PYTHON``."""
    if python:
        os.environ["PYSPARK_PYTHON"] = python
    elif local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def project_zip(folder: Path | None = None) -> Path | None:
    """A zip of the installed packages (code and package data), built once per content.

    None when the packages are not plain folders (the driver itself runs from a zip
    that spark-submit ships already).
    """
    files: list[tuple[str, Path]] = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations or not Path(locations[0]).is_dir():
            return None
        base = Path(locations[0])
        files += [(f"{name}/{p.relative_to(base).as_posix()}", p) for p in sorted(base.rglob("*"))
                  if p.is_file() and p.suffix in DATA_SUFFIXES and "__pycache__" not in p.parts]
    digest = hashlib.sha256()
    for arcname, path in files:
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    folder = folder or Path(tempfile.gettempdir()) / "intentmine-pyfiles"
    target = folder / f"intentmine-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for arcname, path in files:
                archive.writestr(zipfile.ZipInfo(arcname, (2020, 1, 1, 0, 0, 0)), path.read_bytes(),
                                 zipfile.ZIP_DEFLATED)
        os.replace(tmp, target)
    return target


def ship_project(sc) -> None:
    """Add the project zip to the application once, so executors import it from there."""
    path = project_zip()
    if path is None or path.name in {Path(p).name for p in sc._python_includes or []}:
        return
    sc.addPyFile(str(path))
    log.info("spark: shipped %s to the executors", path.name)


def wait_for_executors(spark, master: str, seconds: float) -> None:
    """Return once an executor has registered; after ``seconds`` stop and raise one line."""
    sc = spark.sparkContext
    deadline = time.monotonic() + seconds
    while True:
        if sc._jsc.sc().isStopped():
            raise InputError(f"spark master {master}: the application was stopped before it got an "
                             f"executor (is the master reachable?)")
        if sc._jsc.sc().getExecutorMemoryStatus().size() > 1:  # the driver counts as one
            return
        if time.monotonic() > deadline:
            memory = sc.getConf().get("spark.executor.memory", "1g")
            cores = sc.getConf().get("spark.executor.cores", "all free")
            spark.stop()
            raise InputError(f"spark master {master}: no executor within {seconds:.0f} s (asked for "
                             f"spark.executor.memory={memory}, cores {cores}: does a worker have that free?)")
        time.sleep(0.25)
