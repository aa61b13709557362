"""Stage 8, ``intentmine report``: one self-contained HTML file per run.

``<root>/reports/week=<week>/run=<run_id>/report.html``, written aside and renamed
into place. The page carries its data as inline JSON and draws the treemap and the
tables with an inline script: no network access, no external file.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from importlib import resources
from pathlib import Path

import pandas as pd

from core.errors import InputError
from jobs.common import fs
from jobs.common.settings import Settings
from jobs.common.storage import (default_run_id, latest_run, optional_table, previous_week, record_stage,
                                 report_path, stage_run, week_bounds, write_file)
from jobs.replay.view import replay_view
from jobs.report.data import (app_key, aux_summary, load_nodes, manifest_parts, node_key, query_share_changes,
                              tree, with_changes)
from schemas.tables import StageRecord


def tool_records(root: Path, week: str) -> tuple[list | None, int | None]:
    tools = optional_table(root, "tools", week)
    if tools is None:
        return None, None
    frame = tools.to_pandas()
    frame["group"] = [f"{m} › {s}" if k == "sub" else f"auxiliary #{int(a)}" for k, m, s, a
                      in zip(frame["kind"], frame["main_category"], frame["subcategory"], frame["aux_cluster"])]
    frame["retired"] = frame["status"] == "retired"
    frame = frame.sort_values(["retired", "traffic_share", "index"], ascending=[True, False, True])
    keep = ["index", "tool_id", "title", "status", "group", "n_actions", "n_queries", "traffic_share",
            "traffic_share_low", "traffic_share_high", "share_change", "example_actions", "first_week",
            "last_week", "merged_into"]
    records = json.loads(frame[keep].to_json(orient="records"))
    return records, int(frame["list_version"].max()) if len(frame) else None


def collect(root: Path, week: str, run_id: str, settings: Settings) -> dict:
    """The page's data: every part None when its source is missing."""
    cfg = settings.tools
    nodes = load_nodes(root, week)
    previous = optional_table(root, "clusters", previous_week(week))
    blocks = details = changes = aux = None
    headline = {"signals": None, "queries": None, "assigned_share": None, "aux_share": None, "noise_share": None}
    if nodes is not None and len(nodes):
        nodes, changes = with_changes(nodes, previous.to_pandas() if previous is not None else None)
        blocks, details = tree(nodes)
        aux = aux_summary(nodes, cfg.report_examples)
        total = int(nodes.loc[nodes["level"].isin(["main", "aux", "noise"]), "size"].sum())
        by_level = nodes.groupby("level")["size"].sum()
        headline.update(signals=total, **{f"{name}_share": float(by_level.get(level, 0)) / total if total else None
                                          for name, level in (("assigned", "main"), ("aux", "aux"), ("noise", "noise"))})
    by_queries = query_share_changes(root, week, previous_week(week), cfg.include_other, cfg.confidence)
    if by_queries is not None and details is not None:  # the app's measure: share of no-click queries
        changes, change = by_queries
        for n in nodes.itertuples(index=False):
            details[node_key(n.level, n.main_category, n.subcategory, n.aux_cluster)]["change"] = \
                change.get(app_key(n.level, n.main_category, n.subcategory, n.aux_cluster))
    queries = optional_table(root, "assignments", week, columns=["query_id"])
    if queries is not None:
        headline["queries"] = int(pd.Series(queries.column("query_id").to_numpy(zero_copy_only=False)).nunique())
    tools, list_version = tool_records(root, week)
    stages, hit_rate, cost = manifest_parts(root, week, run_id)
    if hit_rate is None:
        hit_rate = cache_rate_from_tables(root, week)
    headline.update(cache_hit_rate=hit_rate, model_cost=cost, list_version=list_version,
                    tools=len(tools) if tools is not None else None,
                    active_tools=sum(t["status"] in ("proposed", "approved") for t in tools) if tools else 0)
    sources = ", ".join(f"{t} {latest_run(root, t, week) or 'missing'}"
                        for t in ("samples", "signals", "assignments", "clusters", "tools"))
    return {"week": week, "run_id": run_id, "sources": f"tables read: {sources}", "headline": headline,
            "tree": blocks, "nodes": details, "changes": changes, "aux": aux, "tools": tools,
            "stages": stages, "confidence": f"{cfg.confidence:.0%}", "replay": replay_view(root, week)}


def cache_rate_from_tables(root: Path, week: str) -> float | None:
    hits, samples = optional_table(root, "cache_hits", week), optional_table(root, "samples", week, ["query_id"])
    if hits is None or samples is None or not samples.num_rows:
        return None
    return hits.num_rows / samples.num_rows


# Inside <script type="application/json"> only "<" can end the element or open a comment
# ("<!--<script>" puts the HTML parser in a state where "</script>" no longer closes it);
# escaping "<", ">", "&" and the two JS line separators keeps every string inert.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def inline_json(data: dict) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element, whatever its strings hold."""
    text = json.dumps(data, default=str, ensure_ascii=False)
    return "".join(_JSON_ESCAPES.get(c, c) for c in text)


def render(data: dict) -> str:
    """The page: the title as escaped HTML text, the data as inline JSON (drawn by the script,
    which escapes every value for its context: text, attribute or SVG)."""
    template = resources.files("jobs.report").joinpath("template.html").read_text(encoding="utf-8")
    title = html.escape(f"{data['week']} · run {data['run_id']}", quote=True)
    parts = {"__TITLE__": title, "__DATA__": inline_json(data)}
    return re.sub("__TITLE__|__DATA__", lambda m: parts[m.group()], template)  # one pass: no value is re-read


@stage_run()
def run_report(logs: Path | None, root: Path, week: str, settings: Settings) -> dict:
    """Write the week's report for the current run; return its path under "report"."""
    began, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
    root = Path(root)
    week_bounds(week)
    published = [t for t in ("clusters", "tools", "assignments", "signals") if latest_run(root, t, week)]
    if not published:
        raise InputError(f"report --week {week}: no published data for that week under {fs.text(root)} "
                         f"(run the pipeline first); nothing written")
    run_id = latest_run(root, "tools", week) or default_run_id(week, settings)
    data = collect(root, week, run_id, settings)
    page = render(data).encode("utf-8")
    path = write_file(report_path(root, week, run_id), page)
    record_stage(root, week, run_id, settings, StageRecord(
        stage="report", started=started, seconds=round(time.perf_counter() - began, 3),
        tables={}, metrics={"bytes": float(len(page))}))
    return {"report": fs.text(path), "bytes": len(page)}
