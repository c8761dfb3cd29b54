"""Liveness, readiness and metrics for orchestrators and monitoring."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.problems import problem_response, problem_responses
from app.config import Settings
from app.db.migrations import current_and_head
from app.errors import ProblemError
from app.ops.metrics import CONTENT_TYPE, exposition

router = APIRouter(tags=["ops"])


@router.get("/healthz", operation_id="getHealth")
async def healthz() -> dict[str, str]:
    """The process is alive. Touches nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    responses=problem_responses(503, "database_unreachable", "migrations_pending"),
)
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    try:
        current, head = await current_and_head(request.app.state.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return problem_response(request, 503, "database_unreachable", f"database unreachable: {type(exc).__name__}")
    if current != head:
        return problem_response(
            request,
            503,
            "migrations_pending",
            f"schema at {current}, newest migration is {head}: run `sponsorflow migrate`",
        )
    return JSONResponse({"status": "ready", "migration": current})


@router.get(
    "/metrics",
    operation_id="getMetrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text exposition format", "content": {"text/plain": {}}},
        **problem_responses(401, "unauthenticated"),
        **problem_responses(404, "not_found"),
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of the service (every process, in multiprocess mode). Needs
    `Authorization: Bearer <SPONSORFLOW_METRICS_TOKEN>` when a token is set; answers 404 when metrics
    are served on their own port (`SPONSORFLOW_METRICS_PORT`), or in production without a token."""
    settings: Settings = request.app.state.settings
    if not settings.metrics_on_api_port:
        raise ProblemError(404, "not_found", "metrics are not served on this port")
    if settings.metrics_token is not None:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        expected = settings.metrics_token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected):
            raise ProblemError(
                401,
                "unauthenticated",
                "send the metrics token as `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
    # Reading every process's files in multiprocess mode is file I/O: keep it off the event loop.
    return Response(await run_in_threadpool(exposition), media_type=CONTENT_TYPE)
