"""Request-scoped sessions. Services commit explicitly (app.db.transactions); this dependency only
closes the session, so nothing that matters happens after the response has been sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


# scope="function": close before the response is sent, not after (FastAPI >= 0.121).
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
