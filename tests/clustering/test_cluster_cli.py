"""``intentmine cluster --actions`` and ``ontology propose`` end to end, with the real model."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jobs.cli
from clustering.ontology import load_ontology
from clustering.tokens import clean_action

ACTIONS = [
    "1. Refine search condition -> colour black",
    "refine search condition -> colour black",
    "Add brand filter from OCR text",
    "segment price range",
    "show more sizes",
    "show more sizes",
    "offer larger size options",
    "refine search condition -> colour black",
]
COLUMNS = ["action", "main_category", "subcategory", "aux_cluster", "main_score", "sub_score"]


@pytest.fixture(autouse=True)
def cluster_commands(monkeypatch):
    """The main CLI with this stage's commands registered (whether or not it lists them yet)."""
    if "jobs.cluster.cli" not in jobs.cli.COMMAND_MODULES:
        monkeypatch.setattr(jobs.cli, "COMMAND_MODULES", jobs.cli.COMMAND_MODULES + ("jobs.cluster.cli",))


def run(*args) -> int:
    return jobs.cli.main(["-q", *args])


def write_actions(path, actions):
    if path.suffix == ".txt":
        path.write_text("\n".join(actions) + "\n")
    elif path.suffix == ".csv":
        pd.DataFrame({"id": range(len(actions)), "action": actions}).to_csv(path, index=False)
    else:
        pq.write_table(pa.table({"action": actions}), path)
    return path


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".parquet"])
def test_one_row_per_input_row_in_order_with_the_spec_columns(tmp_path, ontology_file, suffix):
    actions = write_actions(tmp_path / f"actions{suffix}", ACTIONS)
    out = tmp_path / "out.parquet"
    assert run("cluster", "--actions", str(actions), "--ontology", str(ontology_file),
               "--out", str(out), "--method", "paper") == 0
    table = pq.read_table(out)
    assert table.column_names == COLUMNS
    assert [str(t) for t in table.schema.types] == ["string", "string", "string", "int64", "double", "double"]
    frame = table.to_pandas()
    assert frame["action"].tolist() == ACTIONS
    assigned = frame["main_category"].notna()
    assert assigned.tolist() == [True, True, False, False, False, False, False, True]
    assert frame.loc[assigned, "subcategory"].eq("colour condition").all()
    assert frame.loc[assigned, "aux_cluster"].isna().all()
    assert frame.loc[~assigned, "subcategory"].isna().all() and frame.loc[~assigned, "sub_score"].isna().all()
    assert frame.loc[~assigned, "aux_cluster"].notna().all()
    # identical strings (and strings equal after cleaning) get identical rows
    assert frame.iloc[0, 1:].tolist()[:3] == frame.iloc[1, 1:].tolist()[:3] == frame.iloc[7, 1:].tolist()[:3]
    assert frame["aux_cluster"].iloc[4] == frame["aux_cluster"].iloc[5] >= 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_main_score_is_the_hand_computed_mix(tmp_path, ontology_file, encoder):
    out = tmp_path / "out.parquet"
    run("cluster", "--actions", str(write_actions(tmp_path / "a.txt", ACTIONS[:1])),
        "--ontology", str(ontology_file), "--out", str(out), "--method", "paper")
    row = pq.read_table(out).to_pylist()[0]
    action, keywords = encoder.encode([clean_action(ACTIONS[0]), "refine condition filter attribute"])
    # tokens: refine search condition colour black; refine and condition match -> s_syn 2/5
    expected = 0.7 * 2 / 5 + 0.3 * float(action @ keywords)
    assert row["main_score"] == pytest.approx(expected, abs=2e-6)
    colour, brand = encoder.encode(["colour color black red", "brand logo ocr"])
    # colour and black match the colour keywords: 2/5
    assert row["sub_score"] == pytest.approx(0.6 * 2 / 5 + 0.4 * float(action @ colour), abs=2e-6)
    assert row["subcategory"] == "colour condition"


@pytest.mark.parametrize("name, content, words", [
    ("empty.txt", "", "no actions"),
    ("blank.txt", "\n\n  \n", "no actions"),
    ("hole.txt", "refine colour\n\nsegment price\n", "line 2: empty action"),
    ("no_column.csv", "text\nrefine colour\n", "no column 'action' (columns: text)"),
    ("empty_cell.csv", "action,id\nrefine colour,1\n,2\n", "line 3, column 'action': expected a non-empty text"),
    ("broken.parquet", "not a parquet file", "cannot read the actions file"),
    ("actions.json", "[]", "unknown actions file type '.json'"),
    ("latin1.txt", b"caf\xe9 colour", "cannot read the actions file"),
])
def test_bad_actions_file_is_one_line_and_exit_2(tmp_path, ontology_file, capsys, name, content, words):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out.parquet"
    assert run("cluster", "--actions", str(path), "--ontology", str(ontology_file), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("intentmine cluster: error: ") and words in err, err
    assert str(path) in err and not out.exists()


def test_missing_actions_file(tmp_path, ontology_file, capsys):
    assert run("cluster", "--actions", str(tmp_path / "nope.txt"), "--ontology", str(ontology_file),
               "--out", str(tmp_path / "o.parquet")) == 2
    assert "nope.txt: cannot read the actions file" in capsys.readouterr().err


def test_malformed_ontology_through_the_command(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: n\nversion: 1\ncategories:\n  - name: c\n    keywords: colour\n")
    out = tmp_path / "o.parquet"
    assert run("cluster", "--actions", str(write_actions(tmp_path / "a.txt", ACTIONS)),
               "--ontology", str(bad), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"intentmine cluster: error: {bad}: key 'categories[0].keywords': "
                   "Input should be a valid list (got 'colour')")
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--out", "o.parquet"], "give either --actions FILE or --root DIR --week W"),
    (["--actions", "a.txt"], "--actions needs --out"),
    (["--actions", "a.txt", "--out", "o.parquet", "--root", "r", "--week", "2026-W47"], "give either"),
    (["--root", "r"], "--root and --week go together"),
])
def test_inconsistent_arguments(tmp_path, ontology_file, capsys, args, words):
    assert run("cluster", "--ontology", str(ontology_file), *args) == 2
    assert words in capsys.readouterr().err


def test_propose_with_the_data_backend_writes_a_loadable_ontology(tmp_path):
    rng = np.random.default_rng(0)
    colours, sizes, prices = ["black", "red", "navy", "white"], ["larger", "smaller", "bigger"], ["low", "high"]
    actions = ([f"refine search condition -> colour {rng.choice(colours)}" for _ in range(40)]
               + [f"show {rng.choice(sizes)} size options" for _ in range(40)]
               + [f"segment price range into {rng.choice(prices)} price band" for _ in range(40)])
    out = tmp_path / "proposed.yaml"
    assert run("ontology", "propose", "--actions", str(write_actions(tmp_path / "a.txt", actions)),
               "--out", str(out), "--backend", "data") == 0
    onto = load_ontology(out)
    keywords = {k for c in onto.categories for s in c.subcategories for k in s.keywords}
    assert {"colour", "price"} <= keywords and any(k in keywords for k in ("size", "options"))
    names = [s.name for c in onto.categories for s in c.subcategories]
    assert len(names) == len(set(names)) >= 3


def test_default_method_is_best_and_keeps_row_order(tmp_path, ontology_file):
    out = tmp_path / "out.parquet"
    assert run("cluster", "--actions", str(write_actions(tmp_path / "a.txt", ACTIONS)),
               "--ontology", str(ontology_file), "--out", str(out)) == 0
    frame = pq.read_table(out).to_pandas()
    assert frame.columns.tolist() == COLUMNS and frame["action"].tolist() == ACTIONS
    assert (frame["main_category"].notna() ^ frame["aux_cluster"].notna()).all()


def test_explicit_settings_override_the_preset(monkeypatch):
    from clustering.params import BEST, PAPER
    from jobs.cluster.stage import method_from
    from jobs.common.settings import get_settings

    assert method_from(get_settings(), "paper") == PAPER and method_from(get_settings(), "best") == BEST
    monkeypatch.setenv("INTENTMINE_CLUSTER__TAU_MAIN", "0.55")
    best = method_from(get_settings(), "best")
    assert best.tau_main == 0.55 and best.fallback == BEST.fallback and best.alpha_main == BEST.alpha_main
    monkeypatch.setenv("INTENTMINE_CLUSTER__ABSORB_TAU", "0.2")
    monkeypatch.setenv("INTENTMINE_CLUSTER__PROTOTYPE_ROUNDS", "2")
    best = method_from(get_settings(), "best")
    assert (best.absorb_tau, best.prototype_rounds, best.tau_main) == (0.2, 2, 0.55)
    assert method_from(get_settings(), "paper").absorb_tau == 0.2  # explicit settings apply to either preset
