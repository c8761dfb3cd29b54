"""RFC 9457 problem details for every error, each with a stable machine-readable `code`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.db.errors import describe, is_contention, is_sqlite_busy, is_unique_violation
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


_OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _methods_of_path(request: Request) -> list[str]:
    """Every method the API documents for the request's path, read from the OpenAPI paths (compiled on
    the first 405: no route table holds a path's methods together)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(request.app.state, "path_methods", None)
    if table is None:
        table = [
            (compile_path(path)[0], [m.upper() for m in operations if m in _OPERATION_METHODS])
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.path_methods = table
    # The first path that matches is the one routed to (`/job-mappings/suggestions` before
    # `/job-mappings/{hris_job_code}`), as the paths are listed in route order.
    return next((sorted(methods) for regex, methods in table if regex.match(request.url.path)), [])


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return render(request, exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # The framework's answer to a body it cannot decode: it is not JSON either.
            code, detail = "malformed_json", "the request body is not valid JSON (UTF-8)"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names the methods of the one route it matched; a path has a route per method.
            headers["Allow"] = ", ".join(_methods_of_path(request)) or headers.get("Allow", "")
        return problem_response(request, exc.status_code, code, detail, headers=headers)

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
        lost = getattr(exc, "connection_invalidated", False)
        if lost:  # the pool has discarded the connection: as transient as a busy database
            log.warning("database connection lost: %s", describe(exc))
        if lost or is_sqlite_busy(exc) or is_contention(exc):
            return problem_response(
                request,
                503,
                "database_busy",
                "the database is busy: retry shortly",
                headers={"Retry-After": "1"},
            )
        log.error("database error: %s", describe(exc))
        return problem_response(request, 500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)

    async def on_date_overflow(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 422, "date_out_of_range", "a date is too far in the future to count from")

    app.add_exception_handler(DBAPIError, on_db_error)
    app.add_exception_handler(OverflowError, on_date_overflow)


#: Every problem code the service answers, with what it means: the OpenAPI documents each operation's
#: codes from this (tests/api check every code raised is here and documented on an operation).
CODES: dict[str, str] = {
    "bad_request": "the request is malformed",
    "malformed_json": "the request body is not valid JSON",
    "invalid_cursor": "the cursor is not one this API issued for this list",
    "organisation_required": "a platform key must name the organisation in Sponsorflow-Organisation",
    "invalid_idempotency_key": "Idempotency-Key must be 1 to 255 characters",
    "unknown_state": "a state filter names no state of the workflow",
    "unauthenticated": "no API key, or an unknown, malformed or revoked one",
    "signature_rejected": "the delivery's signature is missing, wrong or stale: nothing was stored",
    "forbidden": "the key's role or kind may not do this",
    "system_action": "the action is fired by sponsorflow itself, never through the API",
    "sandbox_disabled": "sandbox features are disabled on this deployment",
    "not_found": "no such resource in the organisation (another organisation's objects answer this too)",
    "unknown_action": "the workflow has no action of that name",
    "method_not_allowed": "the path does not answer this method",
    "not_acceptable": "the response cannot be given in an accepted media type",
    "concurrent_conflict": "another request created this at the same time: reload and retry",
    "action_refused": "the action's guards refused it: `reasons` says what to fix; nothing changed",
    "action_not_available": "the action is not available from the current state; nothing changed",
    "idempotency_request_in_progress": "a request with this Idempotency-Key is still running: retry shortly",
    "licence_exists": "the organisation already has a current licence: act on it instead",
    "cooling_off": "the licence was revoked and the cooling-off period has not passed",
    "external_id_taken": "another hire of the organisation already has this external_id",
    "fields_locked": "these details can no longer be changed in the case's state: `reasons` names them",
    "personal_data_erased": "the case's personal data was erased: nothing is left to hold",
    "test_clock_in_use": "the test clock already serves an organisation",
    "obligation_settled": "the obligation is already reported or waived",
    "event_not_replayable": "only failed or ignored HRIS events are replayed",
    "endpoint_disabled": "the webhook endpoint is disabled",
    "delivery_in_flight": "the delivery is being sent right now",
    "precondition_failed": "If-Match does not match the current version (its ETag is sent back): reload and retry",
    "payload_too_large": "the request body is larger than the service accepts",
    "unsupported_media_type": "send the request body as application/json",
    "validation_error": "the request does not match the schema: `errors` lists the fields",
    "idempotency_key_reused": "the Idempotency-Key was already used with a different request",
    "rule_not_in_force": "the rules data has no rule in force on that date",
    "date_out_of_range": "a date is too far in the future to count from",
    "clock_cannot_go_back": "a test clock only moves forward",
    "unknown_soc_code": "the SOC code is not in the occupation data in force",
    "unknown_event_type": "no event type of that name to subscribe to",
    "url_refused": "the webhook URL is refused (scheme, host or address)",
    "invalid_role": "the role cannot be given to this key",
    "sandbox_required": "only sandbox organisations can live on a test clock",
    "unknown_test_clock": "no such test clock",
    "date_in_future": "the date lies after today: record it once it has happened",
    "precondition_required": "send If-Match with the ETag you read",
    "internal_error": "an unexpected error occurred",
    "database_busy": "the database is busy: retry after Retry-After seconds",
    "database_unreachable": "the database cannot be reached",
    "migrations_pending": "the schema is behind the newest migration",
}

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


def problem_example(status: int, code: str) -> dict[str, Any]:
    """The documented example of one problem code."""
    value = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": CODES[code],
    }
    return {"summary": CODES[code], "value": value}


def problem_response_doc(status: int, codes: Sequence[str]) -> dict[str, Any]:
    """One OpenAPI response: the Problem schema, its codes listed in words and one example each."""
    listed = ", ".join(f"`{code}`" for code in codes)
    return {
        "description": f"{HTTPStatus(status).phrase}: {listed} (each example says what it means)",
        "content": {
            PROBLEM_JSON: {
                "schema": PROBLEM_SCHEMA,
                "examples": {code: problem_example(status, code) for code in codes},
            }
        },
    }


#: OpenAPI `responses=` entries for the problem codes a route answers with one status, beyond those every
#: route of its kind answers (app.web.contract adds those); combine statuses with `|`.
def problem_responses(status: int, *codes: str) -> dict[int | str, dict[str, Any]]:
    return {status: problem_response_doc(status, codes)}


def handle_as(app: FastAPI, exc_type: type[Exception], status: int, code: str) -> None:
    """Render an exception raised by a lower layer (which knows nothing of HTTP) as one problem."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, status, code, str(exc))

    app.add_exception_handler(exc_type, handler)
