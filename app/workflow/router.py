"""The workflow definitions for humans and frontends, served from the data the engine runs."""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

from app.api.types import VisibleStr
from app.errors import NotFound
from app.web.auth import Authenticated
from app.web.routing import v1_router
from app.workflow import WORKFLOWS, Workflow, describe, render

router = v1_router("workflows")


def _workflow(name: str) -> Workflow[Any]:
    if name not in WORKFLOWS:
        raise NotFound("workflow")
    return WORKFLOWS[name]


@router.get("/workflows")
async def list_workflows(_: Authenticated) -> list[dict[str, Any]]:
    """Every workflow: states (with the deadlines they arm), actions, guards and obligations."""
    return [describe(w) for w in WORKFLOWS.values()]


@router.get("/workflows/{name}")
async def get_workflow(name: VisibleStr, _: Authenticated) -> dict[str, Any]:
    return describe(_workflow(name))


@router.get("/workflows/{name}/diagram", response_class=PlainTextResponse)
async def get_workflow_diagram(name: VisibleStr, _: Authenticated) -> str:
    """The workflow as Mermaid `stateDiagram-v2` text, drawn from the machine the code runs."""
    return render(_workflow(name))
