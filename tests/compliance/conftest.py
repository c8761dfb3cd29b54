from __future__ import annotations

import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.tenants import Tenant


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    w = Casework(client, tenant, clock)
    w.on("2026-01-12")
    await w.licence_active()
    return w
