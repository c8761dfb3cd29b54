"""Domain errors and the reasons behind refusals. No HTTP here: the API layer renders these as RFC 9457
problems, and the worker logs them, so use cases raise them wherever they run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class Reason:
    """Why a rule or guard refused: a stable code, a sentence a person can act on, and the payload or
    case field to fix when there is one. One type from the guards to the client."""

    code: str
    message: str
    field: str | None = None


class FieldError(BaseModel):
    loc: list[str | int]
    message: str
    type: str


class ProblemError(Exception):
    """Raise anywhere below the router; rendered as problem+json by the app's handler."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        reasons: Sequence[Reason] | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.reasons = list(reasons) if reasons is not None else None
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}


class NotFound(ProblemError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")


class Conflict(ProblemError):
    def __init__(self, code: str, detail: str, reasons: Sequence[Reason] | None = None) -> None:
        super().__init__(409, code, detail, reasons=reasons)


class PreconditionFailed(ProblemError):
    def __init__(self, current_etag: str) -> None:
        super().__init__(
            412,
            "precondition_failed",
            f"If-Match does not match the current version {current_etag}: reload and retry",
            headers={"ETag": current_etag},
        )
