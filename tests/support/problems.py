"""Assertions on RFC 9457 problems, and counts that prove a refused request wrote nothing."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_sessionmaker
from app.organisations.models import Organisation
from app.tables import metadata

NEW_ORG = {"name": "New Co", "sponsor_size": "small", "nation": "scotland"}


async def organisation_count(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine)() as session:
        return int((await session.execute(select(func.count()).select_from(Organisation))).scalar_one())


def assert_problem(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code.replace("_", "-"))
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table: equal before and after a refused request, it wrote nothing anywhere."""
    async with engine.connect() as conn:
        return {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in metadata.sorted_tables
        }


def assert_field_refused(response, *loc: str | int) -> dict:  # type: ignore[no-untyped-def]
    """A 422 `validation_error` whose `errors` name the field at `loc` (e.g. "body", "salary")."""
    body = assert_problem(response, 422, "validation_error")
    assert [*loc] in [e["loc"] for e in body["errors"]], body
    return body


async def tables_holding(engine: AsyncEngine, needle: str) -> set[str]:
    """The tables with `needle` in any column of any row (text, JSON, anything rendered as text)."""
    found = set()
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                if any(needle in (v if isinstance(v, str) else json.dumps(v, default=str)) for v in row):
                    found.add(table.name)
                    break
    return found
