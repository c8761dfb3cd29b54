"""Who calls: API keys, their roles, and the principal a request acts as.

A key is `sf_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the whole key is compared in
constant time. Keys are 256-bit random values, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    hr = "hr"
    admin = "admin"
    platform = "platform"


RANK = {Role.viewer: 0, Role.hr: 1, Role.admin: 2}


@dataclass(frozen=True, slots=True)
class OrgContext:
    """What every organisation-scoped use case needs to know about the organisation."""

    nation: str
    clock_id: str | None  # the sandbox test clock it lives on, if any
    clock_time: datetime | None  # that clock's frozen time
    sponsor_size: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: Role
    organisation_id: str | None  # None for platform keys
    org: OrgContext | None = None

    @property
    def is_platform(self) -> bool:
        return self.role is Role.platform


@dataclass(frozen=True, slots=True)
class OrgActor:
    """Who acts, and for which organisation, on an organisation-scoped route."""

    principal: Principal
    organisation_id: str
    role: Role  # effective role inside the organisation
    org: OrgContext

    @property
    def key_id(self) -> str:
        return self.principal.key_id


def generate_key() -> tuple[str, str, str]:
    """Return (full key, prefix, hash). The full key is shown once and never stored."""
    prefix = secrets.token_hex(4)
    key = f"sf_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
