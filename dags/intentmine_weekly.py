"""
### intentmine weekly

Mines the no-click image searches of the ISO week that ended before the run
(a run on Monday 2026-11-23 processes week 2026-W47) and publishes versioned tables:

`check_logs >> sample >> cache >> analyse >> cluster >> tools >> report`

Each task calls the same job function as `intentmine run --from X --to X`, reads only
the tables of earlier tasks and overwrites its own partition of the week, so a rerun
or a backfill of a date gives the same outputs with no duplicates. Calls to the model
servers run in the pool `intentmine_models` (create it with
`airflow pools set intentmine_models 4 "vLLM servers"`).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, Param, dag, get_current_context, task

from jobs.common.settings import Settings

DEFAULTS = Settings()
ROOT = str(DEFAULTS.root)
MODEL_POOL = "intentmine_models"
RETRIES = {"retries": 2, "retry_delay": dt.timedelta(minutes=2), "retry_exponential_backoff": True,
           "max_retry_delay": dt.timedelta(minutes=30)}


def table(name: str) -> Asset:
    return Asset(name=f"intentmine.{name}", uri=f"file://{DEFAULTS.root.resolve()}/{name}")


def run_stage(stage: str) -> dict:
    """Run one pipeline stage for the week of this run's logical date (imports stay inside)."""
    from jobs.pipeline import run_week_stage

    context = get_current_context()
    params = context["params"]
    return run_week_stage(stage, context["logical_date"], params)


@dag(
    schedule=DEFAULTS.schedule,
    start_date=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=RETRIES,
    doc_md=__doc__,
    tags=["intentmine", "weekly", "visual-search"],
    params={
        "logs": Param(str(DEFAULTS.logs), type="string", description="raw search-log folder"),
        "root": Param(ROOT, type="string", description="warehouse root of the versioned tables"),
        "week": Param("", type="string", description="ISO week to process; empty: the week before the logical date"),
        "per_category": Param(DEFAULTS.sample.per_category, type="integer", minimum=1),
        "backend": Param(DEFAULTS.models.backend, type="string", enum=["rules", "vllm"]),
        "vlm_url": Param(DEFAULTS.models.vlm_url, type="string"),
        "llm_url": Param(DEFAULTS.models.llm_url, type="string"),
    },
)
def intentmine_weekly():
    @task
    def check_logs() -> dict:
        return run_stage("validate")

    @task(outlets=[table(t) for t in ("no_click_queries", "filtered_queries", "rejected_rows", "samples")])
    def sample() -> dict:
        return run_stage("sample")

    @task(outlets=[table("cache_hits")])
    def cache() -> dict:
        return run_stage("cache")

    @task(outlets=[table("analyses"), table("signals")], pool=MODEL_POOL)
    def analyse() -> dict:
        return run_stage("analyse")

    @task(outlets=[table("assignments"), table("clusters")])
    def cluster() -> dict:
        return run_stage("cluster")

    @task(outlets=[table("tools"), table("training_samples")])
    def tools() -> dict:
        return run_stage("tools")

    @task(outlets=[table("replay"), table("replay_tools")])
    def replay() -> dict:
        return run_stage("replay")

    @task
    def report() -> dict:
        return run_stage("report")

    check_logs() >> sample() >> cache() >> analyse() >> cluster() >> tools() >> replay() >> report()


intentmine_weekly()
