"""The id of the request being served, for log lines and audit events: a leaf every layer may read."""

from __future__ import annotations

from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def bind(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind(token: Token[str | None]) -> None:
    _request_id.reset(token)
