"""Idempotency-Key on POST, as a route class every /v1 router uses.

Before the handler runs, the key is claimed for the calling API key in a short transaction of its own,
together with a fingerprint of the request. A repeat with the same fingerprint replays the stored
response; another body under the same key gets 422; a repeat while the first is still running gets 409.
The response (2xx and 4xx: the request was handled) is stored after the handler's own transaction has
committed; a 5xx or a crash releases the claim so the client may retry. If the process dies between the
use case's commit and storing the response, the claim expires after `idempotency_lock_seconds` and a
retry runs again, where the workflow's own guards and If-Match refuse a double action.

A secret shown once (an API key, a signing secret: fields marked `shown_once`) is never stored: the replay
answers `[shown once]` in its place.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.models import IdempotencyRecord
from app.api.problems import render
from app.api.types import SHOWN_ONCE, shown_once_fields
from app.db.session import Handler, SessionRoute
from app.db.transactions import for_update, write_transaction
from app.errors import Conflict, ProblemError
from app.web.auth import ORGANISATION_HEADER, principal_of

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("content-type", "etag", "location")


class _Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method, path, query):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _claim(
    sessions: async_sessionmaker[AsyncSession], principal_id: str, key: str, fp: str, request: Request
) -> int:
    now = request.app.state.clock.now()
    lock = timedelta(seconds=request.app.state.settings.idempotency_lock_seconds)
    for attempt in range(2):
        try:
            async with sessions() as session, write_transaction(session):
                record = (
                    await session.execute(
                        for_update(
                            select(IdempotencyRecord).where(
                                IdempotencyRecord.principal_id == principal_id, IdempotencyRecord.key == key
                            )
                        )
                    )
                ).scalar_one_or_none()
                if record is None:
                    record = IdempotencyRecord(
                        principal_id=principal_id, key=key, fingerprint=fp, locked_at=now, created_at=now
                    )
                    session.add(record)
                    await session.flush()
                    return record.id
                if record.fingerprint != fp:
                    raise ProblemError(
                        422,
                        "idempotency_key_reused",
                        f"{HEADER} {key!r} was already used with a different request: use a new key",
                    )
                if record.response_status is not None:
                    raise _Replay(_replayed(record))
                if record.locked_at > now - lock:
                    raise Conflict(
                        "idempotency_request_in_progress",
                        f"a request with {HEADER} {key!r} is still being processed: retry shortly",
                    )
                record.locked_at = now  # the first attempt died without an answer: take it over
                return record.id
        except IntegrityError:
            if attempt:  # two first claims raced on PostgreSQL; the loser looks again
                raise
    raise AssertionError("unreachable")


def _stored_body(response: Response, secrets: frozenset[str]) -> str:
    """The body a replay answers: a secret shown once is replaced, so the record never holds it."""
    body = bytes(response.body).decode()
    if not secrets or response.status_code >= 400:
        return body
    shown = json.loads(body)
    return json.dumps({k: SHOWN_ONCE if k in secrets else v for k, v in shown.items()}, separators=(",", ":"))


async def _store(
    sessions: async_sessionmaker[AsyncSession], record_id: int, response: Response, secrets: frozenset[str]
) -> None:
    async with sessions() as session, write_transaction(session):
        record = await session.get(IdempotencyRecord, record_id)
        if record is not None:
            record.response_status = response.status_code
            record.response_headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
            record.response_body = _stored_body(response, secrets)


async def _release(sessions: async_sessionmaker[AsyncSession], record_id: int) -> None:
    async with sessions() as session, write_transaction(session):
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))


class ApiRoute(SessionRoute):
    """The route class of every /v1 router: adds Idempotency-Key handling to POST routes (the request's
    session is closed before the response is stored)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not self.methods or "POST" not in self.methods:
            return handler
        secrets = shown_once_fields(self.response_model)

        async def idempotent(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            if not 1 <= len(key) <= 255:
                raise ProblemError(400, "invalid_idempotency_key", f"{HEADER} must be 1 to 255 characters")
            principal = await principal_of(request)
            sessions = request.app.state.sessionmaker
            # The acting organisation is part of the request: a platform key's Idempotency-Key used for
            # one organisation must not replay that answer for another.
            acting_for = request.headers.get(ORGANISATION_HEADER, "")
            scope = f"{acting_for}:{request.url.path}" if acting_for else request.url.path
            body = await request.body()
            try:
                record_id = await _claim(
                    sessions,
                    principal.key_id,
                    key,
                    fingerprint(request.method, scope, request.url.query, body),
                    request,
                )
            except _Replay as replay:
                return replay.response
            try:
                response = await handler(request)
            except ProblemError as exc:
                if exc.status >= 500:
                    await _release(sessions, record_id)
                    raise
                response = render(request, exc)
            except Exception:
                # Not handled (bad input never reached the use case, or it failed): free the key.
                await _release(sessions, record_id)
                raise
            if response.status_code >= 500:
                await _release(sessions, record_id)
            else:
                await _store(sessions, record_id, response, secrets)
            return response

        return idempotent


def _replayed(record: IdempotencyRecord) -> Response:
    headers: dict[str, Any] = dict(record.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    media_type = headers.pop("content-type", "application/json")
    return Response(
        content=record.response_body or "",
        status_code=record.response_status or 200,
        headers=headers,
        media_type=media_type,
    )


async def prune(sessions: async_sessionmaker[AsyncSession], older_than: datetime) -> int:
    """Forget keys older than the retention window: a retry after it runs as a new request."""
    async with sessions() as session, write_transaction(session):
        result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]
