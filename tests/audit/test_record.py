"""The audit trail's append: every event gets the next sequence numbers of its organisation and an
outbox row whose payload is the event exactly as the feed shows it (PostgreSQL writes all of it in one
statement, SQLite in three: both must agree)."""

from __future__ import annotations

from datetime import UTC, datetime

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit import service as audit
from app.audit.models import OutboxMessage
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.db.engine import create_sessionmaker
from app.db.transactions import write_transaction
from tests.support.tenants import Tenant

NOW = datetime(2026, 1, 12, 9, 30, 15, 123456, tzinfo=UTC)


async def test_events_are_numbered_in_order_and_queued_as_the_feed_shows_them(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine
) -> None:
    actor = Actor(type="api_key", id="key_1", role="hr")
    batches = [
        [EventDraft("hire.created", "hire", "hire_a", to_state="draft", data={"salary": "62000.00", "n": [1, 2]})],
        [
            EventDraft(
                "hire.state_changed", "hire", "hire_a", action="withdraw", from_state="draft", to_state="withdrawn"
            ),
            EventDraft(
                "obligation.created", "obligation", "obl_a", to_state="open", case_id="hire_a", data={"k": None}
            ),
        ],
    ]
    returned = []
    for drafts in batches:
        async with create_sessionmaker(db)() as session, write_transaction(session):
            returned += await audit.record(session, tenant.organisation_id, actor, drafts, NOW)
    assert [e.seq for e in returned] == [1, 2, 3]

    feed = (await client.get("/v1/events", headers=tenant.headers("viewer"))).json()["data"]
    assert feed == [e.model_dump(mode="json") for e in returned]
    async with db.connect() as conn:
        queued = (await conn.execute(select(OutboxMessage.payload).order_by(OutboxMessage.id))).scalars().all()
    assert list(queued) == feed
