"""Replay a week's queries through their predicted tools, and score before and after.

A *plan* is a query's tools in the reasoner's order, each with the Info it needs
(:class:`Step`). Plans come from the published training samples and tool list (the
stage) or straight from a clustering's groups (the sensitivity benchmark); either
way a step carries the tool's text, never only its index. Ground truth enters only
through ``intents`` in :func:`replay`, after the executors ran: it scores, it never
chooses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from jobs.cluster.tree import top_values
from jobs.replay.catalogue import Catalogue
from jobs.replay.executors import TOP, Query, ToolCard, choose_executor, run_executor
from jobs.replay.judge import relevance


@dataclass(frozen=True)
class Step:
    """One tool of a query's plan: the tool, its text and the Info the signal gave it."""

    tool_id: str
    index: int | None
    card: ToolCard
    info: str


def plans_from_training(training: pa.Table, tools: pa.Table) -> dict[str, list[Step]]:
    """Plans from the published ``training_samples`` (indices, infos) and the ``tools`` list."""
    cards = {}
    for t in tools.select(["tool_id", "index", "title", "main_category", "subcategory",
                           "example_actions"]).to_pylist():
        cards[t["index"]] = (t["tool_id"], ToolCard(t["title"], t["main_category"], t["subcategory"],
                                                    tuple(t["example_actions"] or ())))
    plans = {}
    for row in training.select(["query_id", "tool_indices", "tool_infos"]).to_pylist():
        plans[row["query_id"]] = [Step(cards[i][0], i, cards[i][1], info)
                                  for i, info in zip(row["tool_indices"], row["tool_infos"]) if i in cards]
    return plans


def plans_from_groups(rows: pd.DataFrame, min_aux_size: int, examples: int = 5) -> dict[str, list[Step]]:
    """Plans from labelled signals (``jobs.tools.groups.labelled_signals``), as the tools stage
    would make them: a sub group is a tool, an auxiliary cluster one with ``min_aux_size`` actions."""
    keyed = rows[rows["group_key"].notna()]
    sizes = keyed.groupby("group_key").size()
    tools = set(sizes.index[(sizes >= min_aux_size) | ~sizes.index.str.startswith("aux::")])
    keyed = keyed[keyed["group_key"].isin(tools)]
    if not len(keyed):
        return {}
    first = keyed.groupby("group_key").agg(kind=("kind", "first"), main=("main_category", "first"),
                                           sub=("subcategory", "first"))
    shown = top_values(keyed, "group_key", "action", examples)
    cards = {}
    for key, g in first.iterrows():
        acts = tuple(shown.get(key, []))
        title = g["sub"] if g["kind"] == "sub" else (acts[0] if acts else key)
        main = None if pd.isna(g["main"]) else g["main"]
        sub = None if pd.isna(g["sub"]) else g["sub"]
        cards[key] = ToolCard(str(title), main, sub, acts)
    ordered = keyed.sort_values(["query_id", "order"], kind="stable").drop_duplicates(["query_id", "group_key"])
    plans: dict[str, list[Step]] = {}
    for q, key, info in zip(ordered["query_id"], ordered["group_key"], ordered["info"]):
        plans.setdefault(q, []).append(Step(key, None, cards[key], str(info)))
    return plans


def catalogue_from_samples(samples: pa.Table) -> pd.DataFrame:
    """Without the logs' catalogue: the products the week's results showed, from their metadata."""
    rows = {}
    for products in samples.column("products").to_pylist():
        for p in products:
            meta = dict(p["metadata"] or [])
            rows.setdefault(p["product_id"], {"product_id": p["product_id"], "price": p["price"], **meta})
    frame = pd.DataFrame(list(rows.values()))
    for column in Catalogue.COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame


def replay(samples: pa.Table, plans: dict[str, list[Step]], catalogue: Catalogue,
           intents: dict[str, dict[str, str]] | None = None, limit: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every sampled query's plan; return (one row per query, one row per step).

    Relevance columns are None for a query without ground truth.
    """
    chosen: dict[tuple[str, str], str | None] = {}
    queries, steps = [], []
    for s in samples.select(["query_id", "main_category", "products"]).to_pylist():
        original = [p["product_id"] for p in sorted(s["products"], key=lambda p: p["rank"])]
        sub, main = catalogue.subcategory_of(original)
        query = Query(original, sub, main or s["main_category"], limit=max(limit, len(original)))
        notes, executors, asks, info_shown = [], [], False, False
        plan = plans.get(s["query_id"], [])
        for step in plan:
            key = (step.tool_id, step.info)
            if key not in chosen:
                chosen[key] = choose_executor(step.card, step.info, catalogue.vocabulary)
            out = run_executor(chosen[key], step.info, query, catalogue)
            query.products = out.products
            asks, info_shown = asks or out.asks_shopper, info_shown or out.shows_information
            executors.append(out.executor)
            notes.append(out.note)
            steps.append({"query_id": s["query_id"], "tool_id": step.tool_id, "index": step.index,
                          "title": step.card.title, "executor": out.executor, "changed": out.changed,
                          "no_match": out.no_match, "asks_shopper": out.asks_shopper})
        want = (intents or {}).get(s["query_id"])
        queries.append({
            "query_id": s["query_id"], "main_category": s["main_category"],
            "tool_ids": [p.tool_id for p in plan], "tool_indices": [p.index for p in plan if p.index is not None],
            "executors": executors, "notes": notes, "changed": query.products[:TOP] != original[:TOP],
            "asks_shopper": asks, "shows_information": info_shown,
            "baseline_products": original[:TOP], "replay_products": query.products[:TOP],
            "baseline_top1": relevance(original, want, catalogue, 1),
            "baseline_top4": relevance(original, want, catalogue, TOP),
            "replay_top1": relevance(query.products, want, catalogue, 1),
            "replay_top4": relevance(query.products, want, catalogue, TOP),
        })
    return pd.DataFrame(queries), pd.DataFrame(steps, columns=["query_id", "tool_id", "index", "title", "executor",
                                                                "changed", "no_match", "asks_shopper"])


SCORES = ("baseline_top1", "baseline_top4", "replay_top1", "replay_top4")


def rates(frame: pd.DataFrame) -> dict[str, float | None]:
    """Share of judged queries relevant at top-1 / top-4, before and after (None when none is judged)."""
    judged = frame[frame["baseline_top1"].notna()] if len(frame) else frame
    out = {"queries": int(len(frame)), "judged": int(len(judged)),
           "changed": int(frame["changed"].sum()) if len(frame) else 0}
    for column in SCORES:
        out[column] = float(judged[column].astype(bool).mean()) if len(judged) else None
    return out


def tool_summary(queries: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Per tool: how often its step changed the results, found nothing or asked the shopper, and the
    before/after relevance of the queries whose plan holds it."""
    if not len(steps):
        return pd.DataFrame(columns=["tool_id", "index", "title", "executor", "n_queries", "n_changed",
                                     "n_no_match", "n_asks_shopper", "n_judged", *SCORES])
    scored = steps.merge(queries[["query_id", *SCORES]], on="query_id", how="left")
    rows = []
    for tool_id, g in scored.groupby("tool_id", sort=False):
        judged = g[g["baseline_top1"].notna()]
        rows.append({"tool_id": tool_id, "index": None if pd.isna(g["index"].iloc[0]) else int(g["index"].iloc[0]),
                     "title": g["title"].iloc[0], "executor": g["executor"].mode().iloc[0],
                     "n_queries": int(g["query_id"].nunique()), "n_changed": int(g["changed"].sum()),
                     "n_no_match": int(g["no_match"].sum()), "n_asks_shopper": int(g["asks_shopper"].sum()),
                     "n_judged": int(len(judged)),
                     **{c: float(judged[c].astype(bool).mean()) if len(judged) else None for c in SCORES}})
    frame = pd.DataFrame(rows)
    return frame.sort_values(["n_queries", "tool_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def by_scenario(queries: pd.DataFrame, scenario: pd.Series) -> pd.DataFrame:
    """The before/after rates per planted scenario (``scenario`` by query id; no scenario: "none")."""
    frame = queries.assign(scenario=queries["query_id"].map(scenario).fillna("none"))
    return pd.DataFrame([{"scenario": k, **rates(g)} for k, g in frame.groupby("scenario", sort=True)])


