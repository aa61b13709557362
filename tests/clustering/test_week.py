"""``cluster --root --week``: the week's signals in, assignments and clusters published, and
auxiliary cluster ids that stay stable when a later week brings new members."""

import pytest

import jobs.cli
from jobs.common.storage import read_manifest, read_table, write_table
from schemas.arrow import to_arrow
from schemas.tables import Signal

WEEK1, WEEK2 = "2026-W46", "2026-W47"


def publish_signals(root, week, actions):
    rows = [Signal(query_id=f"{week}-q{i // 2}", order=i % 2 + 1, action=a, info="", reasoning="",
                   backend="rules", model="rules", prompt_name="llm_reasoning", prompt_version=1,
                   run_id="signals-run") for i, a in enumerate(actions)]
    write_table(root, "signals", week, "signals-run", to_arrow(Signal, rows))


@pytest.fixture(autouse=True)
def cluster_commands(monkeypatch):
    monkeypatch.setenv("INTENTMINE_CLUSTER__METHOD", "paper")  # the paper's DBSCAN, ids checked below
    if "jobs.cluster.cli" not in jobs.cli.COMMAND_MODULES:
        monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", jobs.cli.COMMAND_MODULES + ("jobs.cluster.cli",))


def cluster(root, week, ontology_file):
    return jobs.cli.main(["-q", "cluster", "--root", str(root), "--week", week, "--ontology", str(ontology_file)])


def test_two_weeks_keep_auxiliary_ids(tmp_path, ontology_file):
    root = tmp_path / "warehouse"
    publish_signals(root, WEEK1, ["refine search condition -> colour black", "show more sizes",
                                  "show more sizes", "offer larger size options",
                                  "recommend similar style", "recommend similar styles"])
    assert cluster(root, WEEK1, ontology_file) == 0
    first = read_table(root, "assignments", WEEK1).to_pandas()
    assert first.columns.tolist() == ["query_id", "order", "action", "main_category", "subcategory",
                                      "aux_cluster", "main_score", "sub_score", "method",
                                      "ontology_version", "run_id"]
    assert first["ontology_version"].eq(3).all() and first["method"].eq("paper").all()
    sizes_id = int(first["aux_cluster"].iloc[1])
    style_id = int(first["aux_cluster"].iloc[4])
    assert sizes_id != style_id and first["aux_cluster"].iloc[3] == sizes_id

    publish_signals(root, WEEK2, ["show me bigger sizes", "recommend a similar style",
                                  "segment results by price band", "split results into price bands"])
    assert cluster(root, WEEK2, ontology_file) == 0
    second = read_table(root, "assignments", WEEK2).to_pandas()
    assert second["aux_cluster"].iloc[0] == sizes_id and second["aux_cluster"].iloc[1] == style_id
    new_id = int(second["aux_cluster"].iloc[2])
    assert new_id == max(sizes_id, style_id) + 1 and second["aux_cluster"].iloc[3] == new_id

    nodes = read_table(root, "clusters", WEEK2).to_pandas()
    aux = nodes[nodes["level"] == "aux"].set_index("aux_cluster")
    assert aux.loc[sizes_id, "size"] == 1 and aux.loc[new_id, "size"] == 2
    stage = [s for s in read_manifest(root, WEEK2, second["run_id"].iloc[0]).stages if s.stage == "cluster"]
    points = read_table(root, "cluster_map", WEEK2).num_rows
    assert stage and stage[0].tables == {"assignments": 4, "clusters": len(nodes), "cluster_map": points}
    assert points > 0


def test_rerun_gives_the_same_tables(tmp_path, ontology_file):
    root = tmp_path / "warehouse"
    publish_signals(root, WEEK1, ["refine colour black", "show more sizes", "show more sizes"])
    assert cluster(root, WEEK1, ontology_file) == 0
    before = read_table(root, "assignments", WEEK1)
    assert cluster(root, WEEK1, ontology_file) == 0
    assert read_table(root, "assignments", WEEK1).equals(before)
    assert len(list((root / "assignments" / f"week={WEEK1}").glob("run=*"))) == 1


def test_missing_signals_is_one_line(tmp_path, ontology_file, capsys):
    assert cluster(tmp_path / "empty", WEEK1, ontology_file) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "table signals: no complete run for week 2026-W46" in err


def test_propose_from_a_week_of_signals(tmp_path):
    from clustering.ontology import load_ontology

    root = tmp_path / "warehouse"
    publish_signals(root, WEEK1, [f"refine search condition -> colour {c}" for c in ("black", "red", "navy")] * 4
                    + [f"segment price range into {b} band" for b in ("low", "mid", "high")] * 4)
    out = tmp_path / "ontology.yaml"
    assert jobs.cli.main(["-q", "ontology", "propose", "--root", str(root), "--week", WEEK1, "--out", str(out)]) == 0
    keywords = {k for c in load_ontology(out).categories for k in c.keywords}
    assert {"colour", "price"} <= keywords
