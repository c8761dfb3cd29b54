"""API key authentication and roles.

A key is `sf_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is compared in
constant time. Keys are 256-bit random values, so a fast hash is enough (no password stretching).
Organisation keys carry a role; platform keys manage organisations and may act for one by naming it
in the `Sponsorflow-Organisation` header, with admin rights there.

Looked-up keys and organisations are cached per process for `api_key_cache_seconds` (KeyCache): a key
revoked, an organisation changed or a test clock moved through this process takes effect here at once
(any commit that wrote an API key, an organisation or a test clock empties the cache), and in the other
processes within that many seconds. A test clock's time is never cached: advancing it shows at once.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, bindparam, event, select
from sqlalchemy.orm import Session, UOWTransaction

from app.errors import NotFound, ProblemError
from app.organisations.models import ApiKey, Organisation
from app.organisations.principals import OrgActor, OrgContext, Principal, Role, hash_key
from app.sandbox.models import TestClock

ORGANISATION_HEADER = "Sponsorflow-Organisation"


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sf_...`")


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    return await principal_of(request)


async def principal_of(request: Request) -> Principal:
    """The request's principal, looked up once per request (the idempotency layer asks first)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthenticated("send an API key as `Authorization: Bearer <key>`")
    principal = await _lookup(request, key.strip())
    request.state.principal = principal
    return principal


@dataclass(frozen=True, slots=True)
class _Org:
    """What the cache keeps of an organisation: everything of its context but its clock's time."""

    nation: str
    clock_id: str | None
    sponsor_size: str


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    role: Role
    organisation_id: str | None
    org: _Org | None


class KeyCache:
    """API keys (by the SHA-256 of the whole key, so a hit needs no secret comparison) and organisations
    seen recently, each kept for `ttl` seconds, at most `max_entries` of them. Unknown or revoked keys
    are never cached. `clear` bumps a generation: a lookup that started before it does not store what it
    read, so a revocation cannot be undone by a request that was reading the key meanwhile."""

    def __init__(self, ttl: float, now: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.ttl, self.now, self.max_entries = ttl, now, max_entries
        self.generation = 0
        self._entries: OrderedDict[str, tuple[float, object]] = OrderedDict()

    def get(self, key: str) -> object | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self.now():
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: str, value: object, generation: int) -> None:
        if self.ttl <= 0 or generation != self.generation:
            return
        self._entries[key] = (self.now() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


#: The session info entry that names the cache a session's commits invalidate (see create_app).
CACHE_INFO = "sponsorflow_key_cache"
_CACHED_MODELS = (ApiKey, Organisation, TestClock)


@event.listens_for(Session, "after_flush")
def _note_cached_writes(session: Session, _flush: UOWTransaction) -> None:
    if CACHE_INFO in session.info and any(
        isinstance(obj, _CACHED_MODELS) for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info["sponsorflow_keys_written"] = True


@event.listens_for(Session, "after_commit")
def _invalidate_on_commit(session: Session) -> None:
    if session.info.pop("sponsorflow_keys_written", False):
        session.info[CACHE_INFO].clear()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop("sponsorflow_keys_written", None)


async def _lookup(request: Request, key: str) -> Principal:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "sf":
        raise _unauthenticated("the API key is malformed")
    cache: KeyCache = request.app.state.key_cache
    digest = hash_key(key)
    cached = cache.get(digest)
    if not isinstance(cached, _Key):
        generation = cache.generation
        # A short session of its own: the use case's write transaction must not start as a reader.
        # One query: the key and, for an organisation key, its organisation's nation and clock.
        async with request.app.state.sessionmaker() as session:
            row = (await session.execute(_KEY_LOOKUP, {"prefix": parts[1]})).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
            raise _unauthenticated("the API key is unknown or revoked")
        org = _Org(row.nation, row.test_clock_id, row.sponsor_size) if row.organisation_id else None
        cached = _Key(row.id, Role(row.role), row.organisation_id, org)
        cache.put(digest, cached, generation)
        if org is not None and org.clock_id is not None:
            return _principal(cached, row.frozen_time)
    return _principal(cached, await _clock_time(request, cached.org))


def _with_org_context(stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """Add the organisation's nation and its test clock's time to a query already joined to it."""
    return stmt.add_columns(
        Organisation.nation, Organisation.test_clock_id, Organisation.sponsor_size, TestClock.frozen_time
    ).outerjoin(TestClock, TestClock.id == Organisation.test_clock_id)


_KEY_LOOKUP = _with_org_context(
    select(ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.organisation_id, ApiKey.revoked_at)
    .outerjoin(Organisation, Organisation.id == ApiKey.organisation_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


def _principal(key: _Key, clock_time: datetime | None) -> Principal:
    org = OrgContext(key.org.nation, key.org.clock_id, clock_time, key.org.sponsor_size) if key.org else None
    return Principal(key_id=key.key_id, role=key.role, organisation_id=key.organisation_id, org=org)


async def _clock_time(request: Request, org: _Org | None) -> datetime | None:
    """A sandbox organisation's test clock time, read on every request (advancing it shows at once)."""
    if org is None or org.clock_id is None:
        return None
    async with request.app.state.sessionmaker() as session:
        found: datetime | None = (
            await session.execute(select(TestClock.frozen_time).where(TestClock.id == org.clock_id))
        ).scalar_one_or_none()
    return found


Authenticated = Annotated[Principal, Depends(authenticate)]


async def platform_principal(principal: Authenticated) -> Principal:
    if not principal.is_platform:
        raise ProblemError(403, "forbidden", "this route needs a platform key")
    return principal


PlatformPrincipal = Annotated[Principal, Depends(platform_principal)]


async def acting(request: Request) -> OrgActor:
    """Who acts for which organisation in this request, worked out once per request (the role check in
    app.web.routing asks; the idempotency layer may have looked the key up first)."""
    cached = getattr(request.state, "actor", None)
    if isinstance(cached, OrgActor):
        return cached
    actor = await _acting(request, await principal_of(request))
    request.state.actor = actor
    return actor


async def _acting(request: Request, principal: Principal) -> OrgActor:
    if principal.organisation_id is not None and principal.org is not None:
        return OrgActor(principal, principal.organisation_id, principal.role, principal.org)
    acting_for = request.headers.get(ORGANISATION_HEADER)
    if not acting_for:
        raise ProblemError(
            400,
            "organisation_required",
            f"a platform key must name the organisation it acts for in the {ORGANISATION_HEADER} header",
        )
    cache: KeyCache = request.app.state.key_cache
    cached = cache.get(f"org:{acting_for}")
    if not isinstance(cached, _Org):
        generation = cache.generation
        async with request.app.state.sessionmaker() as session:
            row = (
                await session.execute(
                    _with_org_context(select(Organisation.id).select_from(Organisation)).where(
                        Organisation.id == acting_for
                    )
                )
            ).first()
        if row is None:
            raise NotFound("organisation")
        cached = _Org(row.nation, row.test_clock_id, row.sponsor_size)
        cache.put(f"org:{acting_for}", cached, generation)
        clock_time = row.frozen_time
    else:
        clock_time = await _clock_time(request, cached)
    org = OrgContext(cached.nation, cached.clock_id, clock_time, cached.sponsor_size)
    return OrgActor(principal, acting_for, Role.admin, org)
