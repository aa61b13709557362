"""One real Airflow deployment per test session (Postgres, api-server, scheduler, dag-processor)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.dags.services import Airflow, Postgres, wait_until

# Two shuffle partitions for a week of a few hundred events (Spark settings do not enter run ids).
SMALL_SPARK = {"INTENTMINE_SPARK__SHUFFLE_PARTITIONS": "2"}


@pytest.fixture(scope="session")
def scheduler():
    """The deployment; ``INTENTMINE_LOGS`` points at a folder that does not exist, so a run given no
    ``logs`` in its conf (the scheduled run that unpausing fires) must fail at its first task."""
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="intentmine-airflow-"))
    (folder / "home").mkdir()
    postgres = Postgres().start()
    airflow = Airflow(folder / "home", postgres, {"INTENTMINE_LOGS": str(folder / "missing-logs"),
                                                  "INTENTMINE_ROOT": str(folder / "default-root"),
                                                  **SMALL_SPARK})
    try:
        airflow.start()
        db = postgres.connect()
        airflow.db = db
        wait_until(lambda: query(db, "select 1 from serialized_dag where dag_id = %s", "intentmine_weekly"),
                   180, "the dag-processor to serialise intentmine_weekly")
        assert query(db, "select filename, stacktrace from import_error") == []
        airflow.started_in = time.monotonic() - began
        yield airflow
    finally:
        airflow.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def query(db, sql: str, *args) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()
