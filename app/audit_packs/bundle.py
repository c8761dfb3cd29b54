"""An organisation's audit packs as one streamed ZIP, with the export's progress readable while it streams."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.cursors import Keyset, Page
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.audit_packs import pack as packs
from app.audit_packs.models import AuditExport
from app.audit_packs.schemas import (
    AuditExportOut,
    AuditPack,
    PackActor,
    PackOrganisation,
)
from app.db.transactions import read_transaction, write_transaction
from app.errors import NotFound, ProblemError
from app.hires.models import Hire
from app.ids import new_id
from app.workflow import HIRE

log = logging.getLogger("sponsorflow.audit")

BUNDLE_FORMAT = "sponsorflow.audit_pack_bundle/1"
#: Cases read per transaction while a bundle streams, and how often its progress row is updated.
BUNDLE_BATCH = 50


# --- an organisation's bundle ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """A started export: its row, and what to stream."""

    export: AuditExport
    organisation: PackOrganisation
    generated_by: PackActor
    workers: list[dict[str, Any]]
    now: datetime

    @property
    def filename(self) -> str:
        return f"audit-packs-{self.organisation.id}-{self.now.date().isoformat()}.zip"


async def start_bundle(
    session: AsyncSession, organisation_id: str, states: Sequence[str], actor: Actor, now: datetime
) -> Bundle:
    """List the workers to export and record the export (its row and its audit event) before streaming."""
    unknown = set(states) - {s.name for s in HIRE.states}
    if unknown:
        raise ProblemError(422, "unknown_state", f"no hire state {sorted(unknown)}")
    stmt = select(Hire.id, Hire.external_id, Hire.given_name, Hire.family_name, Hire.state).where(
        Hire.organisation_id == organisation_id
    )
    if states:
        stmt = stmt.where(Hire.state.in_(list(states)))
    async with write_transaction(session):
        organisation = await packs.organisation_of(session, organisation_id)
        by = packs.pack_actor(actor, await packs.key_name(session, actor))
        workers = [
            {
                "hire_id": row.id,
                "external_id": row.external_id,
                "worker": f"{row.given_name} {row.family_name}",
                "state": row.state,
                "json": f"workers/{row.id}.json",
                "html": f"workers/{row.id}.html",
            }
            for row in await session.execute(stmt.order_by(Hire.id))
        ]
        filters = {"state": sorted(states)} if states else {}
        export = AuditExport(
            id=new_id("exp"),
            organisation_id=organisation_id,
            status="running",
            filters=filters,
            total=len(workers),
            done=0,
            bytes_sent=0,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_role=actor.role,
            error=None,
            started_at=now,
            updated_at=now,
            finished_at=None,
        )
        session.add(export)
        await session.flush()
        await audit.record(
            session,
            organisation_id,
            actor,
            [
                EventDraft(
                    "audit_packs.exported",
                    "audit_export",
                    export.id,
                    data={"total": len(workers), "filters": filters},
                )
            ],
            now,
        )
    return Bundle(export, organisation, by, workers, now)


class _Sink(io.RawIOBase):
    """Where the ZIP writer puts its bytes until the stream takes them; not seekable, so zipfile writes
    each entry's sizes after its data and the archive streams."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _entry(zf: zipfile.ZipFile, name: str, content: str, when: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, content.encode())


async def stream_bundle(
    sessions: async_sessionmaker[AsyncSession],
    bundle: Bundle,
    render_html: Callable[[AuditPack], str],
    clock: Callable[[], datetime],
) -> AsyncIterator[bytes]:
    """The ZIP: `manifest.json` first (every worker, with the paths of their files), then each worker's
    pack as JSON and as a printable document. Progress goes to the export row after every batch; a
    failure (the client gone, an error) marks the export failed."""
    export_id, now = bundle.export.id, bundle.now
    sink = _Sink()
    sent = done = 0
    try:
        with zipfile.ZipFile(sink, mode="w") as zf:
            manifest = {
                "format": BUNDLE_FORMAT,
                "export_id": export_id,
                "organisation": bundle.organisation.model_dump(mode="json"),
                "generated_at": now.isoformat(),
                "generated_by": bundle.generated_by.model_dump(mode="json"),
                "filters": bundle.export.filters,
                "total": len(bundle.workers),
                "workers": bundle.workers,
            }
            _entry(zf, "manifest.json", json.dumps(manifest, indent=2), now)
            for start in range(0, len(bundle.workers), BUNDLE_BATCH):
                ids = [w["hire_id"] for w in bundle.workers[start : start + BUNDLE_BATCH]]
                async with sessions() as session, read_transaction(session):
                    loaded = await packs.load_packs(session, bundle.organisation, ids, bundle.generated_by, now)
                for pack in loaded:
                    _entry(zf, f"workers/{pack.hire_id}.json", pack.model_dump_json(indent=2), now)
                    _entry(zf, f"workers/{pack.hire_id}.html", render_html(pack), now)
                chunk = sink.take()
                sent, done = sent + len(chunk), done + len(ids)
                await _progress(sessions, export_id, clock(), done=done, bytes_sent=sent)
                yield chunk
        tail = sink.take()
        yield tail
        await _progress(sessions, export_id, clock(), done=done, bytes_sent=sent + len(tail), status="completed")
    except BaseException as exc:
        # Shielded: after a client disconnect the stream's scope is cancelled, and so would this write be.
        with anyio.CancelScope(shield=True):
            try:
                await _progress(sessions, export_id, clock(), done=done, bytes_sent=sent, status="failed", error=exc)
            except Exception:
                log.exception("could not mark audit export %s failed", export_id)
        raise


async def _progress(
    sessions: async_sessionmaker[AsyncSession],
    export_id: str,
    now: datetime,
    *,
    done: int,
    bytes_sent: int,
    status: str | None = None,
    error: BaseException | None = None,
) -> None:
    values: dict[str, Any] = {"done": done, "bytes_sent": bytes_sent, "updated_at": now}
    if status is not None:
        values |= {"status": status, "finished_at": now}
    if error is not None:
        values["error"] = (type(error).__name__ + (f": {error}" if str(error) else ""))[:500]
    async with sessions() as session, write_transaction(session):
        await session.execute(update(AuditExport).where(AuditExport.id == export_id).values(**values))


_BY_START = Keyset(("started_at", AuditExport.started_at, datetime.fromisoformat), ("id", AuditExport.id, str))


async def get_export(session: AsyncSession, organisation_id: str, export_id: str) -> AuditExportOut:
    async with read_transaction(session):
        export = (
            await session.execute(
                select(AuditExport).where(AuditExport.id == export_id, AuditExport.organisation_id == organisation_id)
            )
        ).scalar_one_or_none()
    if export is None:
        raise NotFound("audit export")
    return AuditExportOut.model_validate(export)


async def list_exports(
    session: AsyncSession, organisation_id: str, cursor: dict[str, Any] | None, limit: int
) -> Page[AuditExportOut]:
    stmt = _BY_START.apply(select(AuditExport).where(AuditExport.organisation_id == organisation_id), cursor, limit)
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_START.page(rows, limit, AuditExportOut.model_validate)
