"""Builders for the small inline inputs of the tools, review and report tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from jobs.common.settings import Settings, ToolsSettings
from jobs.common.storage import write_table

RUN = "r1"


def settings(**tools) -> Settings:
    base = {"min_aux_size": 2, "retire_after_weeks": 2}
    return Settings(run_id=RUN, tools=ToolsSettings(**(base | tools)))


def write_week(root: Path, week: str, signals: list[tuple], strata: dict[str, int] | None = None) -> None:
    """Publish assignments, signals, samples and (with the cluster stage's builder) the tree of one week.

    ``signals``: (query_id, main, sub, aux, action, info) in reasoner order per query;
    ``strata``: main category -> population (the samples table's category_population),
    every query sampled in the stratum of its first signal's main category (or "misc").
    """
    order: dict[str, int] = {}
    a_rows, s_rows = [], []
    for query_id, main, sub, aux, action, info in signals:
        order[query_id] = order.get(query_id, 0) + 1
        a_rows.append({"query_id": query_id, "order": order[query_id], "action": action,
                       "main_category": main, "subcategory": sub, "aux_cluster": aux,
                       "main_score": 0.5, "sub_score": 0.4 if sub else None, "method": "paper",
                       "ontology_version": 1, "run_id": RUN})
        s_rows.append({"query_id": query_id, "order": order[query_id], "action": action, "info": info,
                       "reasoning": f"reasoning of {query_id}", "main_category": main, "backend": "rules",
                       "model": "rules", "prompt_name": "reason", "prompt_version": 1, "run_id": RUN})
    write_table(root, "assignments", week, RUN, pa.Table.from_pylist(a_rows))
    from jobs.cluster.tree import cluster_nodes
    from jobs.common.storage import optional_table, previous_week

    previous = optional_table(root, "clusters", previous_week(week))
    write_table(root, "clusters", week, RUN, cluster_nodes(pa.Table.from_pylist(a_rows).to_pandas(), week, RUN, 5,
                                                          previous.to_pandas() if previous is not None else None))
    write_table(root, "signals", week, RUN, pa.Table.from_pylist(s_rows))
    first = {}
    for query_id, main, *_ in signals:
        first.setdefault(query_id, main or "misc")
    strata = strata or {}
    sampled = {m: sum(1 for v in first.values() if v == m) for m in set(first.values())}
    samples = [{
        "query_id": q, "user_id": "u", "ts": dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc),
        "image_uri": f"images/{q}.png", "main_category": m, "sample_rank": 1,
        "category_population": strata.get(m, sampled[m] * 10), "category_sampled": sampled[m],
        "sample_weight": strata.get(m, sampled[m] * 10) / sampled[m],
        "products": [{"rank": r, "product_id": f"p{r}", "similarity": 0.9 - r / 100, "title": f"item {r}",
                      "price": 10.0 * r, "image_uri": f"images/p{r}.png", "metadata": {"colour": "red"}}
                     for r in (1, 2)],
        "top_fields": ["colour"], "run_id": RUN} for q, m in first.items()]
    from schemas.arrow import to_arrow
    from schemas.tables import Sample

    write_table(root, "samples", week, RUN, to_arrow(Sample, samples))
