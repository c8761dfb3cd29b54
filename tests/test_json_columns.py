"""JSON columns read with orjson (app.db.engine.read_json) give what json.loads gave, whatever is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import JSON, cast, literal, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import read_json

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
