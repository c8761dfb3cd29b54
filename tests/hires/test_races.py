"""Two clients racing on one case get one winner, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.databases import PG_URL
from tests.support.tenants import Tenant


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    w = Casework(client, tenant, clock)
    w.on("2026-01-12")
    await w.licence_active()
    return w


async def fire(client: AsyncClient, url: str, headers: dict[str, str], n: int = 20) -> Counter[int]:
    responses = await asyncio.gather(*(client.post(url, json={}, headers=headers) for _ in range(n)))
    return Counter(r.status_code for r in responses)


async def test_twenty_identical_actions_with_one_version_give_one_success(work: Casework) -> None:
    hire = await work.create(inside_uk=False)
    url = f"/v1/hires/{hire['id']}/actions/request_cos"
    statuses = await fire(work.client, url, work.headers(**{"If-Match": work.etags[hire["id"]]}))
    assert statuses[200] == 1 and statuses[412] == 19, statuses
    assert [e["action"] for e in await work.events(hire["id"])] == [None, "request_cos"]


async def test_twenty_identical_actions_without_a_version_give_one_success(work: Casework) -> None:
    hire = await work.create(inside_uk=False)
    url = f"/v1/hires/{hire['id']}/actions/request_cos"
    statuses = await fire(work.client, url, work.headers(**{"If-Match": "*"}))
    assert statuses[200] == 1 and statuses[409] == 19, statuses
    assert len(await work.events(hire["id"])) == 2


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def api_processes(ports: list[int], env: dict[str, str]) -> Iterator[None]:
    """Real `sponsorflow serve` processes, as replicas would run in production."""
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        yield
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres_only
@pytest.mark.processes
async def test_two_server_processes_racing_on_one_case_give_one_success(work: Casework) -> None:
    hire = await work.create(inside_uk=False)
    env = os.environ | {
        "SPONSORFLOW_DATABASE_URL": PG_URL,
        "SPONSORFLOW_SCHEDULER_ENABLED": "false",
        "SPONSORFLOW_BOOTSTRAP_DEV_KEYS": "false",
        "SPONSORFLOW_LOG_LEVEL": "WARNING",
    }
    ports = [_free_port(), _free_port()]
    with api_processes(ports, env):
        async with httpx.AsyncClient(timeout=10) as http:
            for port in ports:
                for _ in range(100):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)  # waiting for a child process to listen, not for time to pass
            headers = work.headers(**{"If-Match": work.etags[hire["id"]]})
            path = f"/v1/hires/{hire['id']}/actions/request_cos"
            responses = await asyncio.gather(
                *(http.post(f"http://127.0.0.1:{ports[i % 2]}{path}", json={}, headers=headers) for i in range(20))
            )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1 and statuses[412] == 19, statuses
    assert len(await work.events(hire["id"])) == 2


async def test_two_hires_racing_for_the_last_undefined_cos_get_one(work: Casework) -> None:
    admin = work.tenant.headers("admin")
    r = await work.client.put(
        "/v1/cos-allocation", json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 1}, headers=admin
    )
    assert r.status_code == 200
    hires = [(await work.create(inside_uk=True, external_id=f"race-{i}"))["id"] for i in range(6)]
    responses = await asyncio.gather(
        *(
            work.client.post(
                f"/v1/hires/{hid}/actions/assign_cos",
                json={"cos_reference": f"U4K7M1234567{i}Z"},
                headers=work.headers(**{"If-Match": "*"}),
            )
            for i, hid in enumerate(hires)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1 and statuses[409] == 5, statuses
    allocation = (await work.client.get("/v1/cos-allocation", headers=admin)).json()
    assert (allocation["used"], allocation["remaining"]) == (1, 0)


async def test_a_revocation_racing_case_actions_gives_clean_answers(work: Casework) -> None:
    hires = [(await work.create(inside_uk=False, external_id=f"rv-{i}"))["id"] for i in range(4)]
    for hid in hires:
        await work.walk(hid, "start_employment", "2026-01-12")
    admin = work.tenant.headers("admin")
    licence = await work.client.get("/v1/licence", headers=admin)
    revoke = work.client.post(
        "/v1/licence/actions/revoke", json={}, headers=admin | {"If-Match": licence.headers["etag"]}
    )
    changes = [
        work.client.post(
            f"/v1/hires/{hid}/actions/change_job",
            json={"effective_date": "2026-01-12", "job_title": f"Lead {n}"},
            headers=work.headers(**{"If-Match": "*"}),
        )
        for n in range(3)
        for hid in hires
    ]
    revoked, *acted = await asyncio.gather(revoke, *changes)
    assert revoked.status_code == 200, revoked.text
    assert {r.status_code for r in acted} <= {200, 409}, [r.text for r in acted if r.status_code not in (200, 409)]
    states = {h["state"] for h in (await work.client.get("/v1/hires", headers=work.headers())).json()["data"]}
    assert states == {"sponsorship_ended"}
