"""Schema <-> Arrow round trips and validation errors that name table, row and field."""

import datetime as dt
import typing

import pyarrow as pa
import pytest
from pydantic import BaseModel

from core.errors import InputError
from schemas.arrow import _unwrap, arrow_schema, from_arrow, to_arrow, validate
from schemas.tables import TABLES, Impression, SearchEvent, Tool

NOW = dt.datetime(2026, 11, 18, 12, 30, tzinfo=dt.timezone.utc)


def example(model: type[BaseModel]) -> dict:
    """A valid row for any registered model, built from its annotations."""
    row = {}
    for name, info in model.model_fields.items():
        core, _, _ = _unwrap(info.annotation)
        origin = typing.get_origin(core)
        if origin is typing.Literal:
            row[name] = typing.get_args(core)[0]
        elif origin is list:
            (item,) = typing.get_args(core)
            row[name] = [example(item)] if isinstance(item, type) and issubclass(item, BaseModel) else \
                [{str: "x", int: 1, float: 0.5}[item]]
        elif origin is dict:
            row[name] = {"k": "v"} if typing.get_args(core)[1] is str else {"k": 1}
        elif isinstance(core, type) and issubclass(core, BaseModel):
            row[name] = example(core)
        else:
            row[name] = {str: "a", int: 3, float: 0.25, bool: True, dt.datetime: NOW,
                         dt.date: NOW.date()}[core]
    return row


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_round_trips_through_arrow(name):
    model = TABLES[name]
    rows = [model.model_validate(example(model))]
    table = to_arrow(model, rows)
    assert table.schema == arrow_schema(model)
    assert from_arrow(model, validate(model, table, name)) == rows


def test_optional_means_nullable_and_annotations_narrow_types():
    schema = arrow_schema(SearchEvent)
    assert schema.field("image_uri").nullable and not schema.field("query_id").nullable
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert arrow_schema(Impression).field("similarity").type == pa.float32()
    assert arrow_schema(Tool).field("example_actions").type == pa.list_(pa.string())


def _events(**change):
    row = example(SearchEvent)
    rows = [dict(row, query_id=f"q{i}") for i in range(5)]
    rows[3].update(change)
    return pa.Table.from_pylist(rows)


@pytest.mark.parametrize("change, expected", [
    ({"user_id": None}, "table search_events (f.parquet), row 3, field user_id: expected string, got null"),
    ({"query_type": "video"}, "row 3, field query_type: expected one of ['image', 'text'], got 'video'"),
    ({"query_id": ""}, "row 3, field query_id: expected a string of length >= 1"),
])
def test_bad_row_is_named(change, expected):
    with pytest.raises(InputError, match=None) as err:
        validate(SearchEvent, _events(**change), "search_events", "f.parquet")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_numeric_bound_and_missing_column_and_bad_type():
    rows = [example(Impression) for _ in range(3)]
    rows[2]["rank"] = 0
    with pytest.raises(InputError, match=r"row 2, field rank: expected a value >= 1, got 0"):
        validate(Impression, pa.Table.from_pylist(rows), "impressions")
    with pytest.raises(InputError, match=r"missing column 'similarity'"):
        validate(Impression, pa.table({"query_id": ["q"], "rank": [1], "product_id": ["p"]}), "impressions")
    bad = pa.table({"query_id": ["q"], "rank": ["first"], "product_id": ["p"], "similarity": [0.5]})
    with pytest.raises(InputError, match=r"field rank: expected int32, got string"):
        validate(Impression, bad, "impressions")


def test_validate_casts_drops_extras_and_fills_missing_nullable_columns():
    data = pa.table({"query_id": ["q"], "rank": pa.array([2], pa.int64()), "product_id": ["p"],
                     "similarity": pa.array([0.5], pa.float64()), "extra": [1]})
    out = validate(Impression, data, "impressions")
    assert out.schema == arrow_schema(Impression)
    row = {k: v for k, v in example(SearchEvent).items() if k != "text"}
    assert validate(SearchEvent, pa.Table.from_pylist([row]), "search_events").column("text").null_count == 1
