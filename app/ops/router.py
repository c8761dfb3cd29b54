"""Liveness and readiness for orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.problems import problem_response
from app.db.migrations import current_and_head

router = APIRouter(tags=["ops"])


@router.get("/healthz", operation_id="getHealth")
async def healthz() -> dict[str, str]:
    """The process is alive. Touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="getReadiness", responses={503: {"description": "not ready"}})
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
