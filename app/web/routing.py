"""Shared router construction and query parameters for every /v1 router.

Dependencies are `async def` even where they do not await: FastAPI runs a plain `def` dependency in a
worker thread, a thread hop per dependency per request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from app.api.cursors import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor
from app.api.etags import IfMatch, parse_if_match
from app.audit.schemas import Actor
from app.calendar import Nation
from app.context import Context
from app.organisations.principals import OrgActor, Principal
from app.rules.book import RuleBook
from app.web.auth import acting
from app.web.idempotency import ApiRoute


def v1_router(tag: str) -> APIRouter:
    return APIRouter(
        prefix="/v1",
        tags=[tag],
        route_class=ApiRoute,
    )


async def cursor_dependency(
    cursor: Annotated[str | None, Query(description="opaque cursor from a previous page's next_cursor")] = None,
) -> dict[str, Any] | None:
    return decode_cursor(cursor)


async def if_match_dependency(
    if_match: Annotated[str | None, Header(alias="If-Match", description="the ETag you read")] = None,
) -> IfMatch:
    parsed = parse_if_match(if_match, required=True)
    assert parsed is not None
    return parsed


Cursor = Annotated[dict[str, Any] | None, Depends(cursor_dependency)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
DefaultLimit = DEFAULT_LIMIT
RequiredIfMatch = Annotated[IfMatch, Depends(if_match_dependency)]


async def optional_if_match_dependency(
    if_match: Annotated[str | None, Header(alias="If-Match", description="the ETag you read")] = None,
) -> IfMatch | None:
    return parse_if_match(if_match, required=False)


OptionalIfMatch = Annotated[IfMatch | None, Depends(optional_if_match_dependency)]


async def _service_now(request: Request) -> datetime:
    """The service's own clock (injected, so tests and sandboxes control time)."""
    now: datetime = request.app.state.clock.now()
    return now


ServiceNow = Annotated[datetime, Depends(_service_now)]


async def _now(request: Request) -> datetime:
    """The organisation's time: its test clock's frozen time in the sandbox, else the service clock."""
    actor = await acting(request)  # resolved once per request, whichever dependency asks first
    now: datetime = actor.org.clock_time or request.app.state.clock.now()
    return now


Now = Annotated[datetime, Depends(_now)]


async def rulebook_dependency(request: Request) -> RuleBook:
    book: RuleBook = request.app.state.rulebook
    return book


Book = Annotated[RuleBook, Depends(rulebook_dependency)]


def actor_of(caller: OrgActor | Principal) -> Actor:
    """Who the audit trail names: the key, with the role it acts in."""
    return Actor(type="api_key", id=caller.key_id, role=caller.role.value)


def context(actor: OrgActor, now: datetime, book: RuleBook) -> Context:
    """The use-case context of an organisation-scoped request."""
    org = actor.org
    return Context(
        actor.organisation_id, actor_of(actor), now, book, Nation(org.nation), org.clock_id, org.sponsor_size
    )
