"""Request-scoped sessions: a dependency opens one, the route class closes it once the endpoint has
returned, before the response is sent. Services commit explicitly (app.db.transactions); closing only
hands the connection back to the pool (rolling back what was not committed).

A plain dependency and a route class rather than a generator dependency: FastAPI runs a generator
inside an exit stack of its own, which cost about 50 µs a request here, more than the rest of the
dependency resolution of a case read."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

_STATE_KEY = "db_session"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


async def get_session(request: Request) -> AsyncSession:
    """The request's session, for routes of a `SessionRoute` router (a test checks every such route)."""
    session: AsyncSession = request.app.state.sessionmaker()
    setattr(request.state, _STATE_KEY, session)
    return session


class SessionRoute(APIRoute):
    """Closes the session a request's dependencies opened once its endpoint has returned or raised."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def closing(request: Request) -> Response:
            try:
                return await handler(request)
            finally:
                session: AsyncSession | None = getattr(request.state, _STATE_KEY, None)
                if session is not None:
                    delattr(request.state, _STATE_KEY)
                    await session.close()

        return closing


Session = Annotated[AsyncSession, Depends(get_session)]
