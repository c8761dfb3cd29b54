"""JSON read and written with orjson (app.db.engine.read_json, write_json): what json.loads read and
json.dumps wrote, whatever is stored or sent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, cast, literal, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import read_json, write_json
from app.db.folding import _json_value

DOCUMENTS = [
    '{"status": "eligible", "salary_basis": "\\u00a354,700.00, the highest of", "reasons": [{"code": "x"}]}',
    '{"a": 1, "a": 2}',  # the last of a repeated key, as json.loads
    "[-0.0, 1E5, 1.5e-320, 18446744073709551615]",
    '{"nested": {"list": [null, true, false, "2026-12-03"]}}',
    # What orjson refuses: read by json.loads, as before.
    '{"x": NaN, "y": Infinity, "z": -Infinity}',
    "[1e400]",
    '"\\ud800"',
]


def _same(a: Any, b: Any) -> bool:
    # Compared as json.dumps writes them: NaN equals NaN there, and an int never equals a float.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_a_json_value_reads_as_json_loads_reads_it(text: str) -> None:
    assert _same(read_json(text), json.loads(text))
    assert _same(read_json(text.encode()), json.loads(text))


async def test_the_engines_read_json_columns_with_it(db: AsyncEngine) -> None:
    # SQLite keeps JSON as text; PostgreSQL sends `json` to asyncpg's codec: both decode with the engine's
    # deserializer, so a value only json.loads can read comes back as it would from json.loads.
    if db.dialect.name == "postgresql":
        text = '{"at": "2026-12-03", "n": [1, 2.5]}'  # PostgreSQL's json takes no NaN
        column = cast(literal(text), JSON)
    else:
        text = '{"x": NaN}'
        column = type_coerce(literal_column(f"'{text}'"), JSON)  # the stored text as it is, not bound as JSON
    async with db.connect() as conn:
        value = (await conn.execute(select(column))).scalar_one()
    assert _same(value, json.loads(text))
    assert db.dialect._json_deserializer is read_json  # type: ignore[attr-defined]
    assert db.dialect._json_serializer is write_json  # type: ignore[attr-defined]


VALUES: list[Any] = [
    {"status": "eligible", "salary_basis": "£54,700.00", "reasons": [{"code": "x", "n": 3}], "none": None},
    [True, False, -0.0, 1e-320, 2.5, 18446744073709551615 // 2, "\u2028 \\ \" /", {"": []}],
    "Zoë O'Brien-Łukasik 山田",
    {"deep": {"deeper": {"deepest": [[], {}]}}},
    18446744073709551616,  # beyond 64 bits: orjson refuses it, json.dumps writes it
    [2**70, {"big": -(2**65)}],
]


@pytest.mark.parametrize("value", VALUES)
def test_a_value_is_written_as_json_dumps_wrote_it(value: Any) -> None:
    assert json.loads(write_json(value)) == json.loads(json.dumps(value))
    assert type(json.loads(write_json(value))) is type(value)


def test_dates_and_amounts_are_written_as_the_folded_writes_always_wrote_them() -> None:
    value = {
        "at": datetime(2026, 12, 3, 9, 30, 1, 250000, tzinfo=UTC),
        "whole_second": datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        "bst": datetime(2026, 7, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        "naive": datetime(2026, 12, 3, 9, 30),
        "day": date(2026, 12, 31),
        "salary": Decimal("54700.00"),
        "keys": {1: "int keys become text, as json.dumps makes them"},
    }
    assert json.loads(write_json(value, _json_value)) == json.loads(json.dumps(value, default=_json_value))


def test_what_neither_can_write_is_refused() -> None:
    with pytest.raises(TypeError):
        write_json({"x": object()})
    with pytest.raises(TypeError):
        write_json({"x": Decimal("1")})  # an amount needs the writer's own rule, as with json.dumps
