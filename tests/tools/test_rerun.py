"""Rerunning an old week after later ones: its outputs as the first time, later weeks untouched."""

from jobs.common.storage import read_table
from jobs.registry import tools as reg
from jobs.tools.stage import run_tools
from tests.tools.conftest import settings, write_week
from tests.tools.test_identity import W1, W2, W3, week1

TABLES = ("tools", "training_samples")


def rows(root, week):
    return {t: sorted(map(str, read_table(root, t, week).to_pylist())) for t in TABLES}


def test_an_old_week_reruns_as_it_ran_and_the_newest_state_stays(tmp_path):
    write_week(tmp_path, W1, week1())
    run_tools(None, tmp_path, W1, settings())
    first = rows(tmp_path, W1)
    # week 2 brings a new group (a new tool, a new index) and drops week 1's aux cluster
    write_week(tmp_path, W2, [r for r in week1() if r[3] is None] +
               [("q9", "price", "discount", None, "show discounted items", "sale")])
    run_tools(None, tmp_path, W2, settings())
    after_two = reg.path(tmp_path).read_text()
    assert "discount" in after_two

    run_tools(None, tmp_path, W1, settings())
    assert rows(tmp_path, W1) == first  # the week's tables are the first run's
    assert reg.path(tmp_path).read_text() == after_two  # the newest state is week 2's, untouched
    assert reg.snapshot_weeks(tmp_path) == [W1, W2]
    assert "discount" not in reg.snapshot_path(tmp_path, W1).read_text()

    write_week(tmp_path, W3, week1())
    assert reg.load_for_week(tmp_path, W3).model_dump() == reg.ToolRegistry.model_validate_json(after_two).model_dump()
    run_tools(None, tmp_path, W3, settings())  # a new week starts from week 2's state
    assert reg.snapshot_weeks(tmp_path) == [W1, W2, W3] and reg.load(tmp_path).tools.keys() >= \
        reg.ToolRegistry.model_validate_json(after_two).tools.keys()
