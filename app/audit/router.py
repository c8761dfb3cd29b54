from __future__ import annotations

from app.audit import service
from app.audit.schemas import EventFeed
from app.web.routing import Cursor, DefaultLimit, Limit, Viewer, v1_router

router = v1_router("events")


@router.get("/events")
async def list_events(org: Viewer, cursor: Cursor, limit: Limit = DefaultLimit) -> EventFeed:
    """The organisation's event feed, oldest first. Poll with `cursor=next_cursor` to receive only
    newer events: a frontend can use this instead of webhooks."""
    return await service.feed(org.session, org.organisation_id, cursor, limit)
