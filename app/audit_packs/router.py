"""Audit packs over HTTP: one worker's pack (JSON or print-ready HTML), an organisation's streamed
bundle, and the bundle exports' progress."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse

from app.api.cursors import Page
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.audit_packs import bundle as bundles
from app.audit_packs import pack as packs
from app.audit_packs.render import render_html
from app.audit_packs.schemas import AuditExportOut, AuditPack
from app.ops.metrics import AUDIT_EXPORTS
from app.web.routing import HR, Cursor, DefaultLimit, Limit, Viewer, v1_router

router = v1_router("audit packs")

EXPORT_ID_HEADER = "Sponsorflow-Export-Id"
EXPORT_TOTAL_HEADER = "Sponsorflow-Export-Total"


def _wants_html(request: Request, document: str | None) -> bool:
    if document is not None:
        return document == "html"
    return "text/html" in request.headers.get("Accept", "")


@router.get(
    "/hires/{hire_id}/audit-pack",
    response_model=AuditPack,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def get_hire_audit_pack(
    hire_id: VisibleStr,
    request: Request,
    org: HR,
    format: Annotated[
        Literal["json", "html"] | None,
        Query(description="`html` for the printable document; default JSON, or HTML when Accept asks for text/html"),
    ] = None,
) -> Response:
    """One worker's audit pack: everything Appendix D asks a sponsor to hold that sponsorflow knows
    (identity, CoS, eligibility with its rules and sources, visa and permission, every right-to-work
    check, every reportable event with its SMS report, absences, salary and job history, deadlines, the
    full event trail), as JSON or as a print-ready HTML document with a timeline of the case. The
    export is recorded in the case's audit trail."""
    html = _wants_html(request, format)
    pack = await packs.export_hire_pack(
        org.session, org.organisation_id, hire_id, org.by, org.now, "html" if html else "json"
    )
    AUDIT_EXPORTS.labels("hire").inc()
    if html:
        return Response(
            render_html(pack),
            media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="audit-pack-{hire_id}.html"'},
        )
    return Response(pack.model_dump_json(), media_type="application/json")


@router.get(
    "/audit-packs",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A ZIP archive: `manifest.json`, then `workers/<hire_id>.json` and `.html` for each worker",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                EXPORT_ID_HEADER: {
                    "description": "follow the export's progress at /v1/audit-pack-exports/{id}",
                    "schema": {"type": "string"},
                },
                EXPORT_TOTAL_HEADER: {"description": "workers in the bundle", "schema": {"type": "integer"}},
            },
        },
        **problem_responses(422, "unknown_state"),
    },
)
async def export_audit_packs(
    request: Request,
    org: HR,
    state: Annotated[list[str] | None, Query(description="only cases in these states")] = None,
) -> StreamingResponse:
    """Every worker's audit pack in one ZIP, streamed as it is built. The manifest comes first and
    lists every worker, so a client can show progress as files arrive; another client can follow the
    export at `/v1/audit-pack-exports/{id}` (id in `Sponsorflow-Export-Id`). The export is an audit
    event of the organisation."""
    bundle = await bundles.start_bundle(org.session, org.organisation_id, state or (), org.by, org.now)
    AUDIT_EXPORTS.labels("organisation").inc()
    return StreamingResponse(
        bundles.stream_bundle(request.app.state.sessionmaker, bundle, render_html, request.app.state.clock.now),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{bundle.filename}"',
            EXPORT_ID_HEADER: bundle.export.id,
            EXPORT_TOTAL_HEADER: str(bundle.export.total),
        },
    )


@router.get("/audit-pack-exports")
async def list_audit_pack_exports(org: Viewer, cursor: Cursor, limit: Limit = DefaultLimit) -> Page[AuditExportOut]:
    """The organisation's bundle exports, oldest first: who exported what, and how each ended."""
    return await bundles.list_exports(org.session, org.organisation_id, cursor, limit)


@router.get("/audit-pack-exports/{export_id}")
async def get_audit_pack_export(export_id: VisibleStr, org: Viewer) -> AuditExportOut:
    """A bundle export's status (`running`, `completed`, `failed`) and progress (`done` of `total`)."""
    return await bundles.get_export(org.session, org.organisation_id, export_id)
