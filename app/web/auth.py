"""API key authentication and roles.

A key is `sf_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is compared in
constant time. Keys are 256-bit random values, so a fast hash is enough (no password stretching).
Organisation keys carry a role; platform keys manage organisations and may act for one by naming it
in the `Sponsorflow-Organisation` header, with admin rights there.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, select

from app.errors import NotFound, ProblemError
from app.organisations.models import ApiKey, Organisation
from app.organisations.principals import RANK, OrgActor, OrgContext, Principal, Role, hash_key
from app.sandbox.models import TestClock

ORGANISATION_HEADER = "Sponsorflow-Organisation"


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sf_...`")


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
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


async def _lookup(request: Request, key: str) -> Principal:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "sf":
        raise _unauthenticated("the API key is malformed")
    # A short session of its own: the use case's write transaction must not start as a reader.
    # One query: the key and, for an organisation key, its organisation's nation and clock.
    async with request.app.state.sessionmaker() as session:
        row = (
            await session.execute(
                _with_org_context(
                    select(ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.organisation_id, ApiKey.revoked_at)
                    .outerjoin(Organisation, Organisation.id == ApiKey.organisation_id)
                    .where(ApiKey.prefix == parts[1])
                )
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)) or row.revoked_at is not None:
        raise _unauthenticated("the API key is unknown or revoked")
    org = OrgContext(row.nation, row.test_clock_id, row.frozen_time) if row.organisation_id else None
    return Principal(key_id=row.id, role=Role(row.role), organisation_id=row.organisation_id, org=org)


def _with_org_context(stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """Add the organisation's nation and its test clock's time to a query already joined to it."""
    return stmt.add_columns(Organisation.nation, Organisation.test_clock_id, TestClock.frozen_time).outerjoin(
        TestClock, TestClock.id == Organisation.test_clock_id
    )


Authenticated = Annotated[Principal, Depends(authenticate)]


async def platform_principal(principal: Authenticated) -> Principal:
    if not principal.is_platform:
        raise ProblemError(403, "forbidden", "this route needs a platform key")
    return principal


PlatformPrincipal = Annotated[Principal, Depends(platform_principal)]


async def org_actor(request: Request, principal: Authenticated) -> OrgActor:
    if principal.organisation_id is not None and principal.org is not None:
        return OrgActor(principal, principal.organisation_id, principal.role, principal.org)
    acting_for = request.headers.get(ORGANISATION_HEADER)
    if not acting_for:
        raise ProblemError(
            400,
            "organisation_required",
            f"a platform key must name the organisation it acts for in the {ORGANISATION_HEADER} header",
        )
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
    return OrgActor(principal, acting_for, Role.admin, OrgContext(row.nation, row.test_clock_id, row.frozen_time))


def require_role(minimum: Role) -> object:
    async def dependency(actor: Annotated[OrgActor, Depends(org_actor)]) -> OrgActor:
        if RANK[actor.role] < RANK[minimum]:
            raise ProblemError(
                403,
                "forbidden",
                f"this action needs the {minimum.value} role; the key has {actor.role.value}",
            )
        return actor

    return Depends(dependency)


Viewer = Annotated[OrgActor, require_role(Role.viewer)]
HR = Annotated[OrgActor, require_role(Role.hr)]
Admin = Annotated[OrgActor, require_role(Role.admin)]
