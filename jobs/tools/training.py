"""Training samples for the online planner, and their chat-format JSONL export.

One sample per sampled query with at least one signal in an active (proposed or
approved) tool. Input: the query image and its retrieved products; target: the
compressed reasoning, the ordered tool indices "(1) (3) (5)" (each tool once, in
the reasoner's order, merged groups counted for the survivor) and the Info each
tool needs. Built with pyarrow list kernels, no Python loop over queries.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jobs.common import fs
from jobs.common.storage import journal
from jobs.registry.tools import ToolRegistry
from schemas.arrow import arrow_schema
from schemas.tables import TrainingSample

SYSTEM = ("You plan repairs for an e-commerce visual search that ended without a click. Given the "
          "query image and the retrieved products, answer with a short reasoning, the indices of "
          "the tools to call in order, and the Info each tool needs.")


def catalogue(registry: ToolRegistry) -> str:
    return "\n".join(f"({t.index}) {t.title} [{t.group}]" for t in registry.active())


def _lists(keys: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pa.ListArray]:
    """Group sorted ``values`` by runs of equal sorted ``keys``: (unique keys, list array)."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], int)
    offsets = pa.array(np.r_[starts, len(keys)].astype(np.int32))
    return keys[starts], pa.ListArray.from_arrays(offsets, values)


def planner_targets(rows: pd.DataFrame, indices: dict[str, int], max_chars: int) -> pa.Table:
    """Per query: reasoning, tool_indices, tool_infos and the target text."""
    picked = rows[rows["tool_id"].isin(indices.keys())][["query_id", "order", "tool_id", "info"]].copy()
    picked["index"] = picked["tool_id"].map(indices).astype("int64")
    picked = picked.sort_values(["query_id", "order"], kind="stable").drop_duplicates(["query_id", "index"])
    if not len(picked):
        return pa.table({"query_id": pa.array([], pa.string()), "reasoning": pa.array([], pa.string()),
                         "tool_indices": pa.array([], pa.list_(pa.int64())),
                         "tool_infos": pa.array([], pa.list_(pa.string())), "target": pa.array([], pa.string())})
    keys = picked["query_id"].to_numpy()
    queries, tool_indices = _lists(keys, pa.array(picked["index"].to_numpy(), pa.int64()))
    _, tool_infos = _lists(keys, pa.array(picked["info"].astype(str).to_numpy(), pa.string()))
    marks = pc.binary_join_element_wise("(", pc.cast(picked["index"].to_numpy(), pa.string()), ")", "")
    _, mark_lists = _lists(keys, marks)
    _, info_lines = _lists(keys, pc.binary_join_element_wise(marks, pa.array(picked["info"].astype(str)), " "))
    reasoning = _reasoning(rows, queries, max_chars)
    target = pc.binary_join_element_wise(
        "Reasoning: ", reasoning, "\nTools: ", pc.binary_join(mark_lists, " "),
        "\nInfo:\n", pc.binary_join(info_lines, "\n"), "")
    return pa.table({"query_id": pa.array(queries, pa.string()), "reasoning": reasoning,
                     "tool_indices": tool_indices, "tool_infos": tool_infos, "target": target})


def _reasoning(rows: pd.DataFrame, queries: np.ndarray, max_chars: int) -> pa.Array:
    """The query's first non-empty reasoning, cut to ``max_chars`` (a marker when cut)."""
    present = rows[rows["reasoning"] != ""].sort_values(["query_id", "order"], kind="stable")
    first = present.drop_duplicates("query_id").set_index("query_id")["reasoning"]
    text = first.reindex(queries).fillna("").astype(str)
    cut = text.str.len() > max_chars
    text = text.where(~cut, text.str.slice(0, max_chars - 1).str.rstrip() + "…")
    return pa.array(text.to_numpy(), pa.string())


def retrieval_text(samples: pa.Table, max_products: int) -> pa.Table:
    """query_id, image uri, main category and the products as "[rank] title | price | sim" lines."""
    products = pc.list_slice(samples.column("products").combine_chunks(), 0, max_products)
    flat = pc.list_flatten(products)
    line = pc.binary_join_element_wise(
        "[", pc.cast(pc.struct_field(flat, "rank"), pa.string()), "] ",
        pc.struct_field(flat, "title"), " | price ",
        pc.cast(pc.round(pc.struct_field(flat, "price"), 2), pa.string()), " | similarity ",
        pc.cast(pc.round(pc.cast(pc.struct_field(flat, "similarity"), pa.float64()), 3), pa.string()), "")
    lines = pa.ListArray.from_arrays(_offsets(products), line)
    return pa.table({"query_id": samples.column("query_id"), "query_image_uri": samples.column("image_uri"),
                     "main_category": samples.column("main_category"),
                     "retrieval": pc.binary_join(lines, "\n")})


def _offsets(lists: pa.ListArray) -> pa.Array:
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32))


def training_samples(rows: pd.DataFrame, registry: ToolRegistry, samples: pa.Table | None, list_version: int,
                     run_id: str, max_chars: int, max_products: int) -> pa.Table:
    """The ``training_samples`` table (queries missing from ``samples`` get empty context)."""
    joined = planner_targets(rows, registry.active_indices(), max_chars)
    n = joined.num_rows
    context = retrieval_text(samples, max_products) if samples is not None else None
    position = pc.index_in(joined["query_id"], context["query_id"]) if context is not None else None
    for name in ("query_image_uri", "main_category", "retrieval"):
        values = context[name].take(position) if context is not None else pa.nulls(n, pa.string())
        joined = joined.append_column(name, pc.fill_null(values, "") if name != "main_category" else values)
    joined = joined.append_column("list_version", pa.array([list_version] * n, pa.int64()))
    joined = joined.append_column("run_id", pa.array([run_id] * n, pa.string()))
    joined = joined.sort_by("query_id")
    return joined.select(arrow_schema(TrainingSample).names).cast(arrow_schema(TrainingSample))


def export_jsonl(samples: pa.Table, registry: ToolRegistry, path: Path | str,
                 with_catalogue: bool = False) -> Path | str:
    """One chat-format SFT record per line (system / user with the image / assistant), atomically.

    Indices never change meaning, so the planner can learn them without the catalogue in
    its prompt; the catalogue goes once into ``tools.json`` beside the export (and into
    every system message only when ``with_catalogue``).
    """
    version = samples.column("list_version")[0].as_py() if samples.num_rows else None
    system = f"{SYSTEM}\nTool list version {version}." + (f"\nTools:\n{catalogue(registry)}" if with_catalogue else "")
    journal(fs.sibling(path, "tools.json"))
    journal(path)  # a failed run leaves the export as it was
    fs.write_text(fs.sibling(path, "tools.json"), json.dumps(
        {"tool_list_version": version, "tools": [{"index": t.index, "tool_id": t.tool_id, "title": t.title,
                                                  "group": t.group, "status": t.status} for t in registry.active()]},
        ensure_ascii=False, indent=1))
    cols = samples.select(["query_id", "query_image_uri", "retrieval", "target", "list_version"]).to_pydict()
    with fs.open_write(path) as out:
        for qid, uri, retrieval, target, version in zip(*cols.values()):
            record = {"id": qid, "tool_list_version": version, "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                             {"type": "text", "text": f"Retrieved products:\n{retrieval}"}]},
                {"role": "assistant", "content": target}]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
