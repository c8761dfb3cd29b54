"""Webhook test helpers: a real receiver on a free loopback port (run in a thread), and `Hooks`, which drives
endpoints over HTTP and relay passes at an injected time."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from app.clock import FrozenClock
from app.config import Settings
from app.integrations.webhooks.relay import Pass, relay_due
from app.integrations.webhooks.sender import Sender
from tests.support.tenants import Tenant


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived
    peer_port: int = 0  # the sender's port: one per TCP connection

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # the receiver is slow: it answers after this many seconds


class Receiver:
    """Records every request; answers from a per-path queue of scripted answers, then `default`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, deque[Answer]] = {}
        self.default = Answer()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.time(),
                            self.client_address[1],
                        )
                    )
                    script = receiver.scripts.get(self.path)
                    answer = script.popleft() if script else receiver.default
                if answer.delay:
                    time.sleep(answer.delay)  # the receiver's own slowness, in its own thread
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(answer.body)  # the sender may stop reading: that is its right

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts.setdefault(path, deque()).extend(answers)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@dataclass
class Hooks:
    """Drives webhooks the way an admin and the worker would: endpoints over HTTP, relay passes at `now`."""

    client: AsyncClient
    tenant: Tenant
    app: FastAPI
    clock: FrozenClock
    sender: Sender

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

    def headers(self, **extra: str) -> dict[str, str]:
        return self.tenant.headers("admin", **extra)

    async def endpoint(self, url: str, event_types: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/v1/webhook-endpoints", json={"url": url, "event_types": event_types, **fields}, headers=self.headers()
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def relay(self, at: datetime | None = None) -> Pass:
        return await relay_due(self.app.state.sessionmaker, at or self.clock.now(), self.settings, sender=self.sender)

    def later(self, **delta: float) -> datetime:
        self.clock.set(self.clock.now() + timedelta(**delta))
        return self.clock.now()

    async def deliveries(self, endpoint_id: str, **params: str) -> list[dict[str, Any]]:
        r = await self.client.get(
            f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params, headers=self.headers()
        )
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    async def delivery(self, delivery_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=self.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())
