"""The replay as the report shows it: overall and per-scenario relevance, and the tools' effects."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.common.storage import optional_table
from jobs.replay.replay import by_scenario, rates


def replay_view(root: Path, week: str, top_tools: int = 15) -> dict | None:
    """The report's replay section (None when the week was not replayed)."""
    queries, tools = optional_table(root, "replay", week), optional_table(root, "replay_tools", week)
    if queries is None:
        return None
    frame = queries.to_pandas()
    scenarios = by_scenario(frame, frame.set_index("query_id")["scenario"]) if frame["scenario"].notna().any() \
        else None
    shown = tools.to_pandas().head(top_tools) if tools is not None else None
    return {"overall": rates(frame),
            "scenarios": json.loads(scenarios.to_json(orient="records")) if scenarios is not None else None,
            "tools": json.loads(shown.drop(columns=["run_id"]).to_json(orient="records")) if shown is not None else None}
