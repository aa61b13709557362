"""scripts/compare_warehouses.py: the check that a change of structure changed no output."""

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from clustering.ontology import dump_ontology
from jobs.common.storage import read_table, write_table
from jobs.registry import ontology as series
from jobs.tools.stage import run_tools
from tests.registry.test_registry import onto
from tests.tools.conftest import RUN, settings, write_week
from tests.tools.test_identity import W1, week1

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_warehouses.py"


def compare(a, b) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)


def test_equal_warehouses_agree_and_a_changed_value_is_named(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        write_week(root, W1, week1())
        run_tools(None, root, W1, settings())
    dump_ontology(onto(1, ["colour condition"]), series.folder(a) / "v1.yaml")  # an old name ...
    series.write(b, onto(1, ["colour condition"]))  # ... and the new one, same content
    same = compare(a, b)
    assert same.returncode == 0, same.stdout
    assert "same:" in same.stdout and "0 difference(s)" in same.stdout

    signals = read_table(b, "signals", W1).to_pylist()
    signals[0]["info"] = "navy"
    write_table(b, "signals", W1, RUN, pa.Table.from_pylist(signals))
    (series.folder(b) / "v0001.yaml").write_text((series.folder(b) / "v0001.yaml").read_text()
                                                 .replace("colour condition", "color condition"))
    differ = compare(a, b)
    assert differ.returncode == 1
    lines = differ.stdout.splitlines()
    assert any(l.startswith(f"signals week {W1}: 1 row(s) only in A, 1 only in B") for l in lines)
    assert any(l.startswith("ontology series differ") for l in lines)
    assert not any(l.startswith("tools ") for l in lines)  # only what changed is named

    shutil.rmtree(b / "training_samples")
    assert f"training_samples week {W1}: only in A" in compare(a, b).stdout
