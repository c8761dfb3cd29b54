"""HRIS test harness: the app served by uvicorn on a loopback port (deliveries cross a real socket as
raw bytes), a connection per provider made through the API, and the inbox applied by calling the
worker's function with the test clock's time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import uvicorn
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.db.engine import create_sessionmaker
from app.integrations.hris.inbox import apply_pending
from app.rules.book import RuleBook
from tests.integrations.hris.senders import SENDERS, Person, Sender
from tests.support.casework import Casework
from tests.support.tenants import Tenant


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    # A socket bound and listening before uvicorn starts: connections queue until it accepts them.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    served = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
    task = asyncio.create_task(served.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    served.should_exit = True
    await task


@pytest.fixture
async def http(server: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url=server, timeout=30) as client:
        yield client


@dataclass
class Hris:
    """One organisation with an HRIS connection, driven the way the HRIS and an HR user would."""

    http: AsyncClient
    tenant: Tenant
    clock: FrozenClock
    engine: AsyncEngine
    book: RuleBook
    sender: Sender
    connection: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.connection["receiving_url"])

    def headers(self, role: str = "hr") -> dict[str, str]:
        return self.tenant.headers(role)

    @property
    def work(self) -> Casework:
        return Casework(self.http, self.tenant, self.clock)

    async def map_job(self, code: str = "Software engineer", soc: str = "2134") -> None:
        r = await self.http.put(f"/v1/job-mappings/{code}", json={"soc_code": soc}, headers=self.headers())
        assert r.status_code in (200, 201), r.text

    async def ready(self) -> None:
        """An active licence and the test person's job mapped: what a case needs to be complete."""
        await self.work.licence_active()
        await self.map_job()

    async def post(self, body: bytes, headers: dict[str, str]) -> Response:
        return await self.http.post(self.url, content=body, headers=headers)

    async def send(self, kind: str, person: Person, at: datetime | None = None) -> Response:
        body, headers = self.sender.delivery(kind, person, at or self.clock.now())
        r = await self.post(body, headers)
        assert r.status_code == 202, r.text
        return r

    async def apply(self) -> int:
        return await apply_pending(create_sessionmaker(self.engine), self.book, self.clock.now())

    async def deliver(self, kind: str, person: Person, at: datetime | None = None) -> dict[str, Any]:
        """Send, let the worker apply it, and return the stored event."""
        receipt = (await self.send(kind, person, at)).json()
        await self.apply()
        return await self.event(receipt["events"][0])

    async def event(self, event_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/hris-events/{event_id}", headers=self.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def events(self, **params: Any) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/hris-events", params=params, headers=self.headers())
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    async def hire(self, hire_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/hires/{hire_id}", headers=self.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def case_of(self, person: Person) -> dict[str, Any] | None:
        r = await self.http.get("/v1/hires", params={"external_id": person.id}, headers=self.headers())
        found = r.json()["data"]
        return dict(found[0]) if found else None


async def connect(http: AsyncClient, tenant: Tenant, provider: str, **overrides: Any) -> tuple[Sender, dict[str, Any]]:
    sender = SENDERS[provider]()
    body: dict[str, Any] = {"name": f"{provider} test", "provider": provider}
    if sender.selector is not None:
        body["selector"] = sender.selector
    if sender.issued_secret is not None:
        body["signing_secret"] = sender.issued_secret
    body["location_map"] = {"Manchester": "england_and_wales", "Glasgow": "scotland"}
    body |= overrides
    r = await http.post("/v1/hris-connections", json=body, headers=tenant.headers("admin"))
    assert r.status_code == 201, r.text
    sender.secret = r.json()["signing_secret"]
    return sender, dict(r.json())


@pytest.fixture(params=list(SENDERS))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def hris(
    http: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine, rulebook: RuleBook, provider: str
) -> Hris:
    sender, connection = await connect(http, tenant, provider)
    return Hris(http, tenant, clock, db, rulebook, sender, connection)
