"""Shared router construction and query parameters for every /v1 router."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from app.api.cursors import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor
from app.api.etags import IfMatch, parse_if_match
from app.api.idempotency import ApiRoute
from app.api.problems import problem_responses


def v1_router(tag: str) -> APIRouter:
    return APIRouter(
        prefix="/v1",
        tags=[tag],
        route_class=ApiRoute,
        responses=problem_responses(400, 401, 403, 404, 422, 500),
    )


def _cursor(
    cursor: Annotated[
        str | None, Query(description="opaque cursor from a previous page's next_cursor")
    ] = None,
) -> dict[str, Any] | None:
    return decode_cursor(cursor)


def _if_match(
    if_match: Annotated[str | None, Header(alias="If-Match", description="the ETag you read")] = None,
) -> IfMatch:
    parsed = parse_if_match(if_match, required=True)
    assert parsed is not None
    return parsed


Cursor = Annotated[dict[str, Any] | None, Depends(_cursor)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
DefaultLimit = DEFAULT_LIMIT
RequiredIfMatch = Annotated[IfMatch, Depends(_if_match)]
