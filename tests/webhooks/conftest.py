from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.clock import FrozenClock
from app.integrations.webhooks.sender import Sender
from tests.support.tenants import Tenant
from tests.support.webhooks import Hooks, Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
async def hooks(client: AsyncClient, tenant: Tenant, app: FastAPI, clock: FrozenClock) -> AsyncIterator[Hooks]:
    sender = Sender(app.state.settings)
    try:
        yield Hooks(client, tenant, app, clock, sender)
    finally:
        await sender.aclose()
