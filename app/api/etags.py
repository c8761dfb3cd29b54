"""ETags are the row version; writes to a versioned resource must send it back in If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from starlette.responses import Response

from app.errors import PreconditionFailed, ProblemError


def etag(version: int) -> str:
    return f'"{version}"'


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=_Versioned)


def tagged(response: Response, resource: V) -> V:
    """Send a versioned resource's ETag with it."""
    response.headers["ETag"] = etag(resource.version)
    return resource


@dataclass(frozen=True, slots=True)
class IfMatch:
    """A parsed If-Match header: `*` or a list of entity tags."""

    any: bool
    tags: frozenset[str]

    def check(self, version: int) -> None:
        """Raise 412 unless the current version is one the client named. Call it under the row lock."""
        if not self.any and etag(version) not in self.tags:
            raise PreconditionFailed(etag(version))


def parse_if_match(header: str | None, *, required: bool = True) -> IfMatch | None:
    if header is None or not header.strip():
        if required:
            raise ProblemError(
                428,
                "precondition_required",
                "send If-Match with the ETag of the version you read, so concurrent changes are not lost",
            )
        return None
    if header.strip() == "*":
        return IfMatch(any=True, tags=frozenset())
    # Weak tags compare as strong here: our ETags are exact versions.
    tags = frozenset(t.strip().removeprefix("W/") for t in header.split(",") if t.strip())
    return IfMatch(any=False, tags=tags)
