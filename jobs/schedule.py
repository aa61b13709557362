"""What an Airflow run of the weekly DAG needs, resolved when a task starts, never at parse time.

The DAG file only wires tasks. Paths, the week and the settings of a run come from the
run's own conf, falling back to ``INTENTMINE_*`` in the worker's environment: a DAG
parsed in one folder and run in another still reads and writes where the run says.
Relative paths are refused (a worker's working directory is nobody's warehouse), and
so is a logs folder that does not exist, in the first task and before any work.

Per stage: how long it may run and how often a failure is retried. A model outage
(:class:`~jobs.analyse.client.EndpointUnreachable`) is retried like any other transient
error; bad input (:class:`~core.errors.InputError`) fails the task at once.
Only the Airflow exception is imported from Airflow, and only when a task fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError

log = logging.getLogger("intentmine")

MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Limits:
    """A task's execution timeout and retries (first retry after ``delay``, then doubling)."""

    timeout: dt.timedelta
    retries: int
    delay: dt.timedelta = 2 * MINUTE

    def task_args(self) -> dict:
        return {"execution_timeout": self.timeout, "retries": self.retries, "retry_delay": self.delay,
                "retry_exponential_backoff": True, "max_retry_delay": 60 * MINUTE}


# Timeouts end hangs (a Spark job waiting for executors, a stuck connection): 40x or more the
# stage's time on the 4,000-query demo week on 2 cores, at least 10 minutes (docs/deploy.md).
# Retries: Spark and the model servers fail transiently; the local CPU stages rarely do.
LIMITS: dict[str, Limits] = {
    "validate": Limits(10 * MINUTE, 1, MINUTE),
    "sample": Limits(60 * MINUTE, 2),
    "cache": Limits(30 * MINUTE, 1),
    "analyse": Limits(6 * 60 * MINUTE, 3, 5 * MINUTE),
    "cluster": Limits(2 * 60 * MINUTE, 1),
    "tools": Limits(30 * MINUTE, 1),
    "replay": Limits(30 * MINUTE, 1),
    "report": Limits(15 * MINUTE, 1),
}

# Stages that read what earlier weeks published: the cache index and the earlier weeks'
# analyses it points at, the auxiliary-cluster memory, the tool registry. Their run for a
# week waits for the same task (and, for the cache, the analysis after it) of the week before.
READS_EARLIER_WEEKS = {"cache": {"depends_on_past": True, "wait_for_downstream": True},
                       "cluster": {"depends_on_past": True},
                       "tools": {"depends_on_past": True}}


def task_args(stage: str) -> dict:
    """The ``@task`` arguments of a stage: limits, and ordering across weeks where it matters."""
    return {**LIMITS[stage].task_args(), **READS_EARLIER_WEEKS.get(stage, {})}


@dataclass(frozen=True)
class RunPlan:
    logs: Path
    root: Path
    week: str
    settings: object


def absolute_folder(value, what: str, must_exist: bool) -> Path:
    """``value`` as an absolute path; a relative, empty or (if ``must_exist``) missing one is bad input."""
    if not str(value or "").strip():
        raise InputError(f"{what}: not set; give it in the run's conf or INTENTMINE_{what.upper()}")
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise InputError(f"{what} '{value}': a relative path; give an absolute one in the run's conf "
                         f"or INTENTMINE_{what.upper()} (a worker's working directory is arbitrary)")
    if must_exist and not path.is_dir():
        raise InputError(f"{what} {path}: no such folder")
    if not must_exist and not path.parent.is_dir():
        raise InputError(f"{what} {path}: its parent folder {path.parent} does not exist")
    return path


def plan(params: dict, logical_date: dt.datetime) -> RunPlan:
    """Settings from the environment with the run's params on top; the week from the logical date."""
    from jobs.common.settings import Settings, overlay
    from jobs.common.storage import week_bounds
    from jobs.pipeline import week_for

    settings = overlay(Settings(), {"sample.per_category": params.get("per_category") or None,
                                    **{f"models.{k}": params.get(k) or None for k in ("backend", "vlm_url", "llm_url")}})
    week = params.get("week") or week_for(logical_date)
    week_bounds(week)
    logs = absolute_folder(params.get("logs") or settings.logs, "logs", must_exist=True)
    root = absolute_folder(params.get("root") or settings.root, "root", must_exist=False)
    return RunPlan(logs, root, week, settings)


def run_task(stage: str, params: dict, logical_date: dt.datetime) -> dict:
    """Run one stage for an Airflow task; bad input fails the task without retries, in one line."""
    from jobs.analyse.client import EndpointUnreachable
    from jobs.pipeline import run_week

    try:
        p = plan(params, logical_date)
        return {"week": p.week, "root": str(p.root),
                **run_week(p.logs, p.root, p.week, p.settings, stage, stage)[stage]}
    except EndpointUnreachable:
        raise  # a model outage: retried
    except InputError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        log.error("intentmine %s: %s", stage, exc)
        raise AirflowFailException(f"intentmine {stage}: {exc}") from None


def dag_schedule() -> str:
    """The DAG's cron: ``INTENTMINE_SCHEDULE`` or the settings' default (read at parse time, no paths)."""
    import os

    from jobs.common.settings import Settings

    return os.environ.get("INTENTMINE_SCHEDULE") or Settings.model_fields["schedule"].default


def published(root: Path | str, table: str, week: str) -> dict:
    """The asset-event extra of a table a task wrote: the week, its latest run and where it lives."""
    from jobs.common.storage import latest_run, table_dir

    run = latest_run(root, table, week)
    return {"week": week, "run_id": run, "uri": f"file://{table_dir(root, table, week, run)}" if run else None}
