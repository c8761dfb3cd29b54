"""Shared router construction, query parameters and the organisation scope for every /v1 router.

An organisation-scoped route takes one `Org` (`Viewer`, `HR`, `Admin`; `...WithRules` for a route that
reads the rules, whose contract then lists the rules' answers): who acts, the session, the
organisation's time and the rules, resolved by one dependency. Dependencies are `async def` even where
they do not await: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per dependency
per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security.base import SecurityBase
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor
from app.api.etags import IfMatch, parse_if_match
from app.audit.schemas import Actor
from app.calendar import Nation
from app.context import Context, uk_today
from app.db.session import get_session
from app.errors import ProblemError
from app.organisations.principals import RANK, OrgActor, Principal, Role
from app.rules.book import RuleBook
from app.web.auth import BEARER, acting
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


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation-scoped request: who acts for the organisation, the request's session, the
    organisation's time (its test clock's frozen time in the sandbox, else the service clock) and, on a
    route that declares them, the rules in force."""

    actor: OrgActor
    session: AsyncSession
    now: datetime
    rules: RuleBook | None

    @property
    def organisation_id(self) -> str:
        return self.actor.organisation_id

    @property
    def today(self) -> date:
        return uk_today(self.now)

    @property
    def nation(self) -> Nation:
        return Nation(self.actor.org.nation)

    @property
    def by(self) -> Actor:
        """Who the audit trail names."""
        return actor_of(self.actor)

    @property
    def book(self) -> RuleBook:
        if self.rules is None:  # the contract documents a rule's answers only where the route declares them
            raise RuntimeError("a route that reads the rules takes ViewerWithRules, HRWithRules or AdminWithRules")
        return self.rules

    @property
    def context(self) -> Context:
        """The use-case context."""
        org = self.actor.org
        return Context(self.organisation_id, self.by, self.now, self.book, self.nation, org.clock_id, org.sponsor_size)


class RoleCheck(SecurityBase):
    """The one dependency of an organisation-scoped route: the API key (documented as the bearer scheme:
    FastAPI takes a `SecurityBase` for one), its role checked against the route's, the session, the
    organisation's time and the rules. One node rather than one per part: FastAPI spends about 15-25 µs
    of its own bookkeeping on every dependency of every request (bench/README.md, eleventh round)."""

    def __init__(self, minimum: Role, *, rules: bool) -> None:
        self.minimum = minimum
        self.rules = rules
        self.model = BEARER.model
        self.scheme_name = BEARER.scheme_name

    async def __call__(self, request: Request) -> Org:
        actor = await acting(request)
        if RANK[actor.role] < RANK[self.minimum]:
            raise ProblemError(
                403,
                "forbidden",
                f"this action needs the {self.minimum.value} role; the key has {actor.role.value}",
            )
        state = request.app.state
        now: datetime = actor.org.clock_time or state.clock.now()
        return Org(actor, await get_session(request), now, state.rulebook if self.rules else None)


def require_role(minimum: Role, *, rules: bool = False) -> Any:
    """An organisation-scoped route's dependency: at least this role, with the rules if `rules`."""
    return Depends(RoleCheck(minimum, rules=rules))


Viewer = Annotated[Org, require_role(Role.viewer)]
HR = Annotated[Org, require_role(Role.hr)]
Admin = Annotated[Org, require_role(Role.admin)]
ViewerWithRules = Annotated[Org, require_role(Role.viewer, rules=True)]
HRWithRules = Annotated[Org, require_role(Role.hr, rules=True)]
AdminWithRules = Annotated[Org, require_role(Role.admin, rules=True)]


def actor_of(caller: OrgActor | Principal) -> Actor:
    """Who the audit trail names: the key, with the role it acts in."""
    return Actor(type="api_key", id=caller.key_id, role=caller.role.value)
