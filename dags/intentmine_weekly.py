"""
### intentmine weekly

Mines the no-click image searches of the ISO week that ended before the run
(a run on Monday 2026-11-23 processes week 2026-W47) and publishes versioned tables:

`check_logs >> sample >> cache >> analyse >> cluster >> tools >> replay >> report`

Each task calls the same job function as `intentmine run --from X --to X`, reads only
the tables of earlier tasks and overwrites its own partition of the week, so a rerun
or a backfill of a date gives the same outputs with no duplicates. `logs` and `root`
come from the run's conf, else from `INTENTMINE_LOGS` / `INTENTMINE_ROOT` on the
workers; both must be absolute. `cache`, `cluster` and `tools` read earlier weeks, so
they wait for the previous week's run (`depends_on_past`); backfill with
`--max-active-runs 1 --reprocess-behavior failed` (see the README). Bad input fails a
task at once with one line; a model outage is retried. Calls to the model servers run
in the pool `intentmine_models` (create it with
`airflow pools set intentmine_models 4 "vLLM servers"`).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset, Param, dag, get_current_context, task

from jobs.schedule import dag_schedule, task_args

MODEL_POOL = "intentmine_models"


def table(name: str) -> Asset:
    """A published table; each asset event's extra says where the run's partition lives."""
    return Asset(name=f"intentmine.{name}", uri=f"intentmine://warehouse/{name}")


def run_stage(stage: str, tables: tuple[str, ...] = ()) -> dict:
    """Run one pipeline stage for the week of this run (imports stay inside)."""
    from jobs.schedule import published, run_task

    context = get_current_context()
    when = context["logical_date"] or context["dag_run"].run_after
    counts = run_task(stage, context["params"], when)
    for name in tables:
        context["outlet_events"][table(name)].extra = published(counts["root"], name, counts["week"])
    return counts


def stage_task(stage: str, tables: tuple[str, ...] = (), **kwargs):
    """``@task`` with the stage's timeout, retries and ordering across weeks (jobs/schedule.py)."""
    return task(outlets=[table(t) for t in tables], **task_args(stage), **kwargs)


@dag(
    schedule=dag_schedule(),
    start_date=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["intentmine", "weekly", "visual-search"],
    params={
        "logs": Param("", type="string", description="raw search-log folder (absolute); empty: INTENTMINE_LOGS"),
        "root": Param("", type="string", description="warehouse root (absolute); empty: INTENTMINE_ROOT"),
        "week": Param("", type="string", description="ISO week to process; empty: the week before the logical date"),
        "per_category": Param(None, type=["null", "integer"], minimum=1, description="empty: the settings'"),
        "backend": Param("", type="string", enum=["", "rules", "vllm"], description="empty: the settings'"),
        "vlm_url": Param("", type="string", description="empty: the settings'"),
        "llm_url": Param("", type="string", description="empty: the settings'"),
    },
)
def intentmine_weekly():
    @stage_task("validate")
    def check_logs() -> dict:
        return run_stage("validate")

    samples = ("no_click_queries", "filtered_queries", "rejected_rows", "samples")

    @stage_task("sample", samples)
    def sample() -> dict:
        return run_stage("sample", samples)

    @stage_task("cache", ("cache_hits",))
    def cache() -> dict:
        return run_stage("cache", ("cache_hits",))

    @stage_task("analyse", ("analyses", "signals"), pool=MODEL_POOL)
    def analyse() -> dict:
        return run_stage("analyse", ("analyses", "signals"))

    @stage_task("cluster", ("assignments", "clusters"))
    def cluster() -> dict:
        return run_stage("cluster", ("assignments", "clusters"))

    @stage_task("tools", ("tools", "training_samples"))
    def tools() -> dict:
        return run_stage("tools", ("tools", "training_samples"))

    @stage_task("replay", ("replay", "replay_tools"))
    def replay() -> dict:
        return run_stage("replay", ("replay", "replay_tools"))

    @stage_task("report")
    def report() -> dict:
        return run_stage("report")

    check_logs() >> sample() >> cache() >> analyse() >> cluster() >> tools() >> replay() >> report()


intentmine_weekly()
