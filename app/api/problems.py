"""RFC 9457 problem details for every error, each with a stable machine-readable `code`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db.errors import is_contention, is_sqlite_busy, is_unique_violation
from app.errors import FieldError, ProblemError, Reason
from app.request_id import current_request_id

log = logging.getLogger("sponsorflow.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://sponsorflow.dev/problems/"


class Problem(BaseModel):
    type: str = Field(description="URI naming the problem type")
    title: str
    status: int
    code: str = Field(description="stable machine-readable error code")
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="field-level errors (422)")
    reasons: list[Reason] | None = Field(default=None, description="why an action was refused (409)")


def problem_response(
    request: Request | None,
    status: int,
    code: str,
    detail: str | None = None,
    *,
    reasons: Sequence[Reason] | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=PROBLEM_BASE + code.replace("_", "-"),
        title=HTTPStatus(status).phrase,
        status=status,
        code=code,
        detail=detail,
        instance=request.url.path if request is not None else None,
        request_id=current_request_id(),
        errors=list(errors) if errors is not None else None,
        reasons=list(reasons) if reasons is not None else None,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def render(request: Request | None, exc: ProblemError) -> JSONResponse:
    return problem_response(
        request, exc.status, exc.code, exc.detail, reasons=exc.reasons, errors=exc.errors, headers=exc.headers
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return render(request, exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        return problem_response(request, exc.status_code, code, detail, headers=dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        raw: Sequence[Any] = exc.errors()
        if any(e.get("type") == "json_invalid" for e in raw):
            return problem_response(request, 400, "malformed_json", "the request body is not valid JSON")
        errors = [
            FieldError(loc=list(e.get("loc", ())), message=str(e.get("msg", "")), type=str(e.get("type", "")))
            for e in raw
        ]
        return problem_response(
            request, 422, "validation_error", "the request does not match the schema", errors=errors
        )

    async def on_db_error(request: Request, exc: Exception) -> JSONResponse:
        if is_unique_violation(exc):
            # Two first writes raced (e.g. two licence applications at once): the loser may simply retry.
            return problem_response(
                request, 409, "concurrent_conflict", "another request created this at the same time: reload and retry"
            )
        if is_sqlite_busy(exc) or is_contention(exc):
            return problem_response(
                request,
                503,
                "database_busy",
                "the database is busy: retry shortly",
                headers={"Retry-After": "1"},
            )
        log.error("database error", exc_info=exc)
        return problem_response(request, 500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)

    async def on_date_overflow(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 422, "date_out_of_range", "a date is too far in the future to count from")

    app.add_exception_handler(DBAPIError, on_db_error)
    app.add_exception_handler(OverflowError, on_date_overflow)


#: OpenAPI `responses=` entries for the problems a route can answer.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {s: {"description": HTTPStatus(s).phrase, "content": {PROBLEM_JSON: {"schema": schema}}} for s in statuses}


def handle_as(app: FastAPI, exc_type: type[Exception], status: int, code: str) -> None:
    """Render an exception raised by a lower layer (which knows nothing of HTTP) as one problem."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, status, code, str(exc))

    app.add_exception_handler(exc_type, handler)
