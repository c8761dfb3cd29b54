"""/metrics: the Prometheus text format, moving with requests, deadlines and obligations; protected by
a setting; aggregated over several worker processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from asyncio.subprocess import DEVNULL, PIPE
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.db.engine import create_sessionmaker
from app.main import create_app
from app.ops import gauges
from app.ops.gauges import DomainGauges
from app.ops.metrics import serve_separately
from app.rules.book import RuleBook
from app.worker.loop import Worker
from tests.ops.scrape import parse, scrape, value
from tests.ops.test_deploy import PROMTOOL, needs_promtool
from tests.support.casework import Casework
from tests.support.databases import TEST_DB, make_settings
from tests.support.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
HIRE_ROUTE = "/v1/hires/{hire_id}"


async def test_requests_are_counted_by_route_template_method_and_status(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    first, second = await work.create(), await work.create(external_id="emp-2")
    before = await scrape(client)

    for hire_id in (first["id"], second["id"], "hire_unknown"):
        await client.get(f"/v1/hires/{hire_id}", headers=tenant.headers("viewer"))
    await client.get("/no/such/path")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"route": HIRE_ROUTE, "method": "GET"}
    assert delta("sponsorflow_http_requests_total", **ok, status="200") == 2
    assert delta("sponsorflow_http_requests_total", **ok, status="404") == 1
    assert delta("sponsorflow_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("sponsorflow_http_request_duration_seconds_count", **ok) == 3
    # The template, never the raw path: ids would give every case its own series.
    routes = {s.labels.get("route") for s in after if "route" in s.labels}
    assert not any(first["id"] in str(r) or "/no/such" in str(r) for r in routes), routes


async def test_domain_gauges_and_scheduler_series_move_when_deadlines_and_obligations_do(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine, rulebook: RuleBook, settings
) -> None:  # type: ignore[no-untyped-def]
    sessions = create_sessionmaker(db)
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    await work.walk(hire["id"], "end_sponsorship", "2026-01-12")  # opens the employment-end SMS report

    await gauges.refresh(sessions)
    counted = await scrape(client)
    assert value(counted, "sponsorflow_cases", state="sponsorship_ended") == 1
    assert value(counted, "sponsorflow_cases", state="employed") == 0  # a state with no case still has a series
    assert value(counted, "sponsorflow_obligations", status="open") == 1
    assert value(counted, "sponsorflow_obligations", status="overdue") == 0
    assert value(counted, "sponsorflow_deadlines", status="pending") >= 1
    breached_before = value(counted, "sponsorflow_deadlines", status="breached")

    # A month later the report is overdue: one pass of the background loop breaches it.
    later = clock.now() + timedelta(days=30)
    worker = Worker(sessions, rulebook, settings)
    worker.gauges = DomainGauges(0)  # recount on every tick here
    first = await worker.tick(later)
    assert first["deadlines"] >= 1 and first["domain_gauges"] == 1
    moved = await scrape(client)
    assert value(moved, "sponsorflow_obligations", status="overdue") == 1
    assert value(moved, "sponsorflow_obligations", status="open") == 0
    assert value(moved, "sponsorflow_deadlines", status="breached") == breached_before + 1
    fired = {"outcome": "breached", "kind": "report_employment_end"}
    assert (
        value(moved, "sponsorflow_scheduler_fired_total", **fired)
        - value(counted, "sponsorflow_scheduler_fired_total", **fired)
        == 1
    )
    for name, moved_by in (("sponsorflow_scheduler_ticks_total", 1), ("sponsorflow_worker_job_failures_total", 0)):
        assert value(moved, name) - value(counted, name) == moved_by, name
    # The pass began with a row that had waited since its due time (days): that is the lag it reports.
    assert value(moved, "sponsorflow_scheduler_lag_seconds") > timedelta(days=15).total_seconds()
    assert (
        value(moved, "sponsorflow_scheduler_due_rows_total") - value(counted, "sponsorflow_scheduler_due_rows_total")
        >= 1
    )

    await worker.tick(later)
    await worker.aclose()
    assert value(await scrape(client), "sponsorflow_scheduler_lag_seconds") == 0  # nothing left waiting


async def test_domain_gauges_are_recounted_at_most_every_interval(db: AsyncEngine) -> None:
    sessions = create_sessionmaker(db)
    throttled = DomainGauges(interval=3600)
    assert await throttled.refresh_if_stale(sessions) is True
    assert await throttled.refresh_if_stale(sessions) is False  # a scrape in between reads the cached values


async def test_database_pool_use_is_followed(client: AsyncClient, tenant: Tenant) -> None:
    before = await scrape(client)
    await client.get("/v1/hires", headers=tenant.headers("viewer"))
    after = await scrape(client)
    assert value(after, "sponsorflow_db_pool_checkouts_total") > value(before, "sponsorflow_db_pool_checkouts_total")
    # Every connection a finished request took went back to the pool.
    assert value(after, "sponsorflow_db_pool_connections_in_use") == value(
        before, "sponsorflow_db_pool_connections_in_use"
    )
    assert value(after, "sponsorflow_db_pool_connections_open") >= 0


def _client(settings, db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook) -> AsyncClient:  # type: ignore[no-untyped-def]
    app = create_app(settings, clock=clock, engine=db, rulebook=rulebook)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


async def test_a_metrics_token_is_required_once_set(
    db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook, settings
) -> None:  # type: ignore[no-untyped-def]
    guarded = make_settings(settings.database_url, metrics_token="s3cret-scrape-token")
    async with _client(guarded, db, clock, rulebook) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-scrape-token"}):
            r = await c.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "unauthenticated"
        assert await scrape(c, Authorization="Bearer s3cret-scrape-token")


async def test_production_serves_metrics_only_behind_a_token(
    db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook, settings
) -> None:  # type: ignore[no-untyped-def]
    async with _client(make_settings(settings.database_url, environment="production"), db, clock, rulebook) as c:
        assert (await c.get("/metrics")).status_code == 404
    with_token = make_settings(settings.database_url, environment="production", metrics_token="t0ken")
    async with _client(with_token, db, clock, rulebook) as c:
        assert await scrape(c, Authorization="Bearer t0ken")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_metrics_port_serves_them_apart_from_the_api(
    db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook, settings
) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    apart = make_settings(settings.database_url, metrics_port=port)
    async with _client(apart, db, clock, rulebook) as c:
        assert (await c.get("/metrics")).status_code == 404
    server = serve_separately("127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as c:
            r = await c.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200
        assert value(parse(r.text), "sponsorflow_http_requests_total") >= 1
    finally:
        server.shutdown()
        server.server_close()


@needs_promtool
async def test_the_exposition_passes_promtool_lint(client: AsyncClient, tenant: Tenant) -> None:
    await client.get("/v1/hires", headers=tenant.headers("viewer"))
    text = (await client.get("/metrics")).text
    assert PROMTOOL is not None
    lint = await asyncio.create_subprocess_exec(
        PROMTOOL, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(lint.communicate(text.encode()), timeout=60)
    assert lint.returncode == 0, out.decode()


def _writers(metrics_dir: Path) -> set[str]:
    """The processes that have metric files (named `<kind>_<pid>.db`)."""
    return {f.stem.rsplit("_", 1)[-1] for f in metrics_dir.glob("*.db")}


@pytest.mark.processes
@pytest.mark.skipif(TEST_DB == "postgresql", reason="uses its own SQLite file; runs once, in the SQLite pass")
async def test_several_worker_processes_answer_one_aggregated_scrape(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    metrics_dir = tmp_path / "metrics"
    env = os.environ | {
        "SPONSORFLOW_DATABASE_URL": url,
        "SPONSORFLOW_BOOTSTRAP_DEV_KEYS": "false",
        "SPONSORFLOW_SCHEDULER_ENABLED": "false",
        "SPONSORFLOW_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    cli = [sys.executable, "-m", "app.cli"]
    migrate = await asyncio.create_subprocess_exec(*cli, "migrate", env=env, cwd=ROOT, stdout=PIPE, stderr=PIPE)
    assert await asyncio.wait_for(migrate.wait(), timeout=120) == 0
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        *cli, "serve", "--workers", "2", "--port", str(port), env=env, cwd=ROOT, stdout=DEVNULL, stderr=DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as c:
            for _ in range(900):  # until both workers have started (bounded: 90 s; each loads the rules)
                try:
                    up = (await c.get("/healthz")).status_code == 200
                    if up and len(_writers(metrics_dir)) >= 2:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # waiting for another process to start, not for time to pass
            else:
                pytest.fail("the server did not start")
        for _ in range(20):
            # A new connection each time, so the kernel spreads them over the workers.
            async with httpx.AsyncClient(base_url=base, timeout=5) as c:
                assert (await c.get("/readyz")).status_code == 200
        async with httpx.AsyncClient(base_url=base, timeout=5) as c:
            scraped = parse((await c.get("/metrics")).text)
        # Whichever worker answered the scrape, it counted every worker's requests.
        assert value(scraped, "sponsorflow_http_requests_total", route="/readyz", status="200") == 20
        assert len(_writers(metrics_dir)) >= 2  # two processes keep their own files
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=30)
        except TimeoutError:
            server.kill()
            await server.wait()
