"""The README's three SQL examples run against a two-week warehouse and return what they say."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from jobs.review.actions import decide
from jobs.serve.sql import connect
from tests.serve.conftest import W1, W2

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- sql examples -->\n```sql\n(.*?)```", text, re.S)[1]
    return [q.strip() for q in block.split(";") if q.strip()]


def test_the_readme_queries(warehouse):
    root, _ = warehouse
    decide(root, {"tool_id": "1", "action": "approve", "value": None, "reviewer": "ana", "reason": "clear",
                  "ts": dt.datetime.now(dt.timezone.utc), "decision_id": None})
    con = connect(root)
    tools, clusters, decisions = (con.sql(q).df() for q in examples())
    assert len(tools) == 3 and list(tools["share_pct"]) == sorted(tools["share_pct"], reverse=True)
    assert (tools["low_pct"] <= tools["share_pct"]).all() and (tools["share_pct"] <= tools["high_pct"]).all()
    assert set(clusters["week"]) == {W1, W2}
    assert clusters["actions"].sum() == con.sql("SELECT count(*) FROM signals").fetchall()[0][0]
    assert decisions[["week", "reviewer", "action", "index"]].values.tolist() == [[W2, "ana", "approve", 1]]
