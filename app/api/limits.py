"""Refuse oversized bodies (413) and non-JSON bodies on the JSON API (415) before any route runs."""

from __future__ import annotations

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem_response

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


class _TooLarge(StarletteHTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTP exception, because the
    framework turns any other error while reading a body into a 400 (a chunked body declares no length,
    so only reading it finds it too large)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large(max_bytes))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, json_prefixes: tuple[str, ...] = ("/v1/",)) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_prefixes = json_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send, 413, "payload_too_large", _too_large(self.max_bytes))
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        has_body = declared not in (None, b"0") or b"transfer-encoding" in headers
        is_json = content_type == b"application/json" or content_type.endswith(b"+json")
        if has_body and not is_json and scope["path"].startswith(self.json_prefixes):
            await self._reject(
                scope,
                receive,
                send,
                415,
                "unsupported_media_type",
                "send the request body as application/json",
            )
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, 413, "payload_too_large", _too_large(self.max_bytes))

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str) -> None:
        response = problem_response(None, status, code, detail)
        await response(scope, receive, send)
