"""The stage list shared by run, demo and the DAG, and how the cluster stage picks its ontology."""

import datetime as dt

import pytest

from core.errors import InputError
from jobs.common.settings import Settings
from jobs.ontology.stage import ontology_for_week
from jobs.pipeline import STAGES, format_results, select_stages, week_for
from jobs.registry.ontology import versions


def test_stages_run_in_data_flow_order_and_slice():
    assert list(STAGES) == ["validate", "sample", "cache", "analyse", "cluster", "tools", "replay", "report"]
    assert select_stages("cache", "cluster") == ["cache", "analyse", "cluster"]
    assert select_stages(None, "sample") == ["validate", "sample"]
    assert select_stages("report", None) == ["report"]
    with pytest.raises(InputError, match="--from tools comes after --to cache"):
        select_stages("tools", "cache")


def test_a_scheduled_run_processes_the_week_before_its_logical_date():
    monday = dt.datetime(2026, 11, 23, 3, tzinfo=dt.timezone.utc)
    assert week_for(monday) == "2026-W47"
    assert week_for(dt.datetime(2027, 1, 4, tzinfo=dt.timezone.utc)) == "2026-W53"


def test_summary_shows_counts_ratios_and_nested_counts():
    text = format_results({"cache": {"queries": 1533, "hit_rate": 0.119, "seconds": 4.6, "by": {"a": 2}}})
    assert "queries 1,533" in text and "hit_rate 11.9%" in text and "by: {a: 2}" in text


def test_ontology_versions_sort_numerically_and_the_newest_wins(tmp_path):
    folder = tmp_path / "_registry" / "ontology"
    folder.mkdir(parents=True)
    for n in (1, 2, 10):
        (folder / f"v{n}.yaml").write_text("x")
    (folder / "v3.yaml.diff").write_text("x")
    assert [p.name for _, p in versions(tmp_path)] == ["v1.yaml", "v2.yaml", "v10.yaml"]
    assert ontology_for_week(tmp_path, "2026-W47", Settings()).name == "v10.yaml"


def test_a_configured_ontology_must_exist(tmp_path):
    settings = Settings()
    settings.cluster.ontology = str(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="cluster.ontology .*missing.yaml: no such ontology file"):
        ontology_for_week(tmp_path, "2026-W47", settings)


def test_without_any_ontology_the_first_week_needs_its_signals(tmp_path):
    with pytest.raises(InputError, match="table signals: no complete run for week 2026-W47"):
        ontology_for_week(tmp_path, "2026-W47", Settings())


def test_a_rerun_of_a_week_keeps_the_ontology_version_it_was_assigned_against(tmp_path):
    """Weeks already clustered keep their version when a newer one is added (reruns give the same
    outputs); a week not yet clustered takes the newest."""
    import pyarrow as pa

    from jobs.common.storage import run_commit, write_table

    folder = tmp_path / "_registry" / "ontology"
    folder.mkdir(parents=True)
    for n in (1, 2):
        (folder / f"v{n:04d}.yaml").write_text("x")
    with run_commit(tmp_path, "2026-W47", Settings()) as run_id:
        write_table(tmp_path, "assignments", "2026-W47", run_id,
                    pa.table({"query_id": ["q1"], "order": pa.array([0], pa.int32()), "action": ["a"],
                              "main_category": ["m"], "subcategory": ["s"], "aux_cluster": pa.array([None], pa.int64()),
                              "main_score": [0.9], "sub_score": [0.9], "method": ["best"],
                              "ontology_version": pa.array([1], pa.int64()), "run_id": [run_id]}))
    (folder / "v0003.yaml").write_text("x")
    assert ontology_for_week(tmp_path, "2026-W47", Settings()).name == "v0001.yaml"
    assert ontology_for_week(tmp_path, "2026-W48", Settings()).name == "v0003.yaml"
