"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, literal, tuple_

from app.errors import ProblemError

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=Select[Any])

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null at the end")


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True, default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ProblemError(400, "invalid_cursor", "the cursor is not one this API issued") from exc
    if not isinstance(value, dict):
        raise ProblemError(400, "invalid_cursor", "the cursor is not one this API issued")
    return value


def cursor_field(cursor: dict[str, Any] | None, name: str) -> Any:
    if cursor is None:
        return None
    if name not in cursor:
        raise ProblemError(400, "invalid_cursor", "the cursor does not belong to this list")
    return cursor[name]


class Keyset:
    """A list's stable order and how to resume it: each column with the parser of its cursor value.

    `apply` orders, limits (one extra row says whether there is more) and seeks past the cursor with the
    row comparison (a, b) > (x, y), so ties on the first column stay in order and an index on the
    columns serves any page. `descending` lists newest first (a log), with < in place of >.
    """

    def __init__(self, *columns: tuple[str, Any, Callable[[str], Any]], descending: bool = False) -> None:
        self.columns = columns
        self.descending = descending

    def apply(self, stmt: S, cursor: dict[str, Any] | None, limit: int) -> S:
        order = [column.desc() if self.descending else column for _, column, _ in self.columns]
        stmt = stmt.order_by(*order).limit(limit + 1)
        if cursor is None:
            return stmt
        try:
            values = [parse(str(cursor_field(cursor, name))) for name, _, parse in self.columns]
        except ValueError as exc:
            raise ProblemError(400, "invalid_cursor", "the cursor is not one this API issued") from exc
        columns = [column for _, column, _ in self.columns]
        bound = [literal(v, c.type) for c, v in zip(columns, values, strict=True)]
        if len(columns) == 1:
            return stmt.where(columns[0] < bound[0] if self.descending else columns[0] > bound[0])
        # A row-value comparison, (a, b) > (x, y): the same order as (a > x) OR (a = x AND b > y), but
        # one an index on (a, b) can start its range from, so a deep page costs what the first does.
        row, past = tuple_(*columns), tuple_(*bound)
        return stmt.where(row < past if self.descending else row > past)

    def key(self, row: Any) -> dict[str, str]:
        return {name: _text(getattr(row, name)) for name, _, _ in self.columns}

    def page(self, rows: Sequence[R], limit: int, convert: Callable[[R], T]) -> Page[T]:
        return page_of(rows, limit, convert, self.key)


def narrowed(stmt: S, *conditions: ColumnElement[bool] | None) -> S:
    """Apply the list filters a client gave; a filter left out is None and narrows nothing."""
    return stmt.where(*(c for c in conditions if c is not None))


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def page_of(
    rows: Sequence[R], limit: int, convert: Callable[[R], T], sort_key: Callable[[R], dict[str, Any]]
) -> Page[T]:
    """Build a page from `limit + 1` rows fetched in sort order: the extra row only says there is more."""
    more = len(rows) > limit
    kept = rows[:limit]
    next_cursor = encode_cursor(sort_key(kept[-1])) if more and kept else None
    return Page[T](data=[convert(r) for r in kept], next_cursor=next_cursor)
