"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from app.api.problems import ProblemError

T = TypeVar("T")
R = TypeVar("R")

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


def page_of(
    rows: Sequence[R], limit: int, convert: Callable[[R], T], sort_key: Callable[[R], dict[str, Any]]
) -> Page[T]:
    """Build a page from `limit + 1` rows fetched in sort order: the extra row only says there is more."""
    more = len(rows) > limit
    kept = rows[:limit]
    next_cursor = encode_cursor(sort_key(kept[-1])) if more and kept else None
    return Page[T](data=[convert(r) for r in kept], next_cursor=next_cursor)
