"""Benchmark: the webhook relay from the outbox to one local receiver, on SQLite and PostgreSQL.

    python bench/webhooks.py [--db sqlite|postgresql|both] [--events 10000] [--rate 250] [--interval 0.1]

For each database, on a fresh schema from the project's migrations, with one organisation and one endpoint
subscribed to every event type, pointing at a receiver in its own process on a loopback port:

1. drain: `--events` events committed first (audit.record, 10 per transaction, the path every use case
   takes), then the relay started; events/s = events / (last receipt - relay start);
2. live: `--events` more committed at `--rate` per second while the relay runs; latency = receipt time at the
   receiver - commit time at the writer, per event (p50, p99, max).

The relay is `relay_due` (the code the embedded task and `sponsorflow worker` run) called in a loop with the
wall-clock time, pausing `--interval` seconds when a pass found nothing. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from app.audit import service as audit  # noqa: E402
from app.audit.service import SYSTEM, EventDraft  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, create_sessionmaker  # noqa: E402
from app.db.migrations import upgrade  # noqa: E402
from app.db.transactions import write_transaction  # noqa: E402
from app.integrations.webhooks import service as webhooks  # noqa: E402
from app.integrations.webhooks.models import WebhookDelivery  # noqa: E402
from app.integrations.webhooks.relay import relay_due  # noqa: E402
from app.integrations.webhooks.schemas import EndpointIn  # noqa: E402
from app.integrations.webhooks.sender import Sender  # noqa: E402
from app.organisations.models import SponsorSize  # noqa: E402
from bench.harness import bench_organisation, print_markdown_table  # noqa: E402

PG_ADMIN_URL = os.environ.get("SPONSORFLOW_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "sponsorflow_bench_webhooks"
PER_TRANSACTION = 10


# --- the receiver, in its own process -------------------------------------------------------------------


def serve(output: Path) -> None:
    """Answer 204 to every POST, remember when each webhook-id first arrived; on SIGTERM write them out."""
    received: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            at = time.time()
            with lock:
                received.setdefault(self.headers["webhook-id"], at)
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_: Any) -> None:
        output.write_text(json.dumps(received))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever()


async def start_receiver(output: Path) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(output), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    port = int((await process.stdout.readline()).decode())
    return process, port


async def stop_receiver(process: asyncio.subprocess.Process, output: Path) -> dict[str, float]:
    process.send_signal(signal.SIGTERM)
    await process.wait()
    received: dict[str, float] = json.loads(await asyncio.to_thread(output.read_text))
    return received


# --- the writer and the relay ---------------------------------------------------------------------------


async def write(sessions: async_sessionmaker[AsyncSession], org: str, n: int, rate: float | None) -> dict[str, float]:
    """Commit `n` events, PER_TRANSACTION at a time, at `rate` per second (None: as fast as possible)."""
    committed: dict[str, float] = {}
    started = time.perf_counter()
    for start in range(0, n, PER_TRANSACTION):
        if rate:
            await asyncio.sleep(max(0.0, started + start / rate - time.perf_counter()))
        drafts = [
            EventDraft("hire.updated", "hire", f"hire_bench_{i}", data={"job_title": f"Engineer {i}"})
            for i in range(start, min(n, start + PER_TRANSACTION))
        ]
        async with sessions() as session, write_transaction(session):
            events = await audit.record(session, org, SYSTEM, drafts, datetime.now(UTC))
        at = time.time()
        committed.update(dict.fromkeys((e.id for e in events), at))
    return committed


async def relay(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event, interval: float
) -> int:
    sender = Sender(settings)
    passes = 0
    try:
        while not stop.is_set():
            passes += 1
            if not (await relay_due(sessions, datetime.now(UTC), settings, sender=sender)).handled:
                await asyncio.sleep(interval)
    finally:
        await sender.aclose()
    return passes


async def succeeded(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(WebhookDelivery.status == "succeeded")
        return int((await session.execute(stmt)).scalar_one())


async def until_delivered(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    while await succeeded(sessions) < n:  # noqa: ASYNC110 - the progress is in the database, not an event
        await asyncio.sleep(0.05)


@dataclass
class Result:
    database: str
    events: int
    drain_seconds: float
    drain_rate: float
    live_rate: float
    latencies_ms: list[float]


async def measure(database: str, url: str, events: int, rate: float, interval: float, workdir: Path) -> Result:
    settings = Settings(database_url=url, environment="development", scheduler_enabled=False)  # type: ignore[arg-type]
    engine = create_engine(settings)
    output = workdir / f"received-{database}.json"
    receiver, port = await start_receiver(output)
    try:
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            org = await bench_organisation(session, datetime.now(UTC), SponsorSize.small)
        async with sessions() as session:
            await webhooks.create_endpoint(
                session, org.id, EndpointIn(url=f"http://127.0.0.1:{port}/hook"), datetime.now(UTC), settings
            )

        print(f"  {database}: committing {events:,} events, then draining ...", file=sys.stderr, flush=True)
        backlog = await write(sessions, org.id, events, None)
        stop = asyncio.Event()
        started = time.time()
        relaying = asyncio.create_task(relay(sessions, settings, stop, interval))
        await until_delivered(sessions, events)

        print(f"  {database}: {events:,} more at {rate:g}/s with the relay running ...", file=sys.stderr, flush=True)
        committed = await write(sessions, org.id, events, rate)
        await until_delivered(sessions, 2 * events)
        stop.set()
        await relaying
        received = await stop_receiver(receiver, output)
        drain_seconds = max(received[e] for e in backlog) - started
        latencies = sorted((received[e] - at) * 1000 for e, at in committed.items())
        live_rate = events / (max(received[e] for e in committed) - min(committed.values()))
        return Result(database, events, drain_seconds, events / drain_seconds, live_rate, latencies)
    finally:
        if receiver.returncode is None:
            receiver.kill()
            await receiver.wait()
        await engine.dispose()


async def pg_recreate(drop_only: bool = False) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        if not drop_only:
            await conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
        version = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    return version


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(databases: list[str], events: int, rate: float, interval: float, workdir: Path) -> list[Result]:
    results = []
    for database in databases:
        if database == "postgresql":
            await pg_recreate()
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB
        else:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        try:
            results.append(await measure(database, url, events, rate, interval, workdir))
        finally:
            if database == "postgresql":
                await pg_recreate(drop_only=True)
    return results


def print_table(results: list[Result], rate: float, interval: float) -> None:
    header = ("database", "events", "drain s", "drain events/s", "live events/s", "p50 ms", "p99 ms", "max ms")
    rows = [
        (
            r.database,
            f"{r.events:,}",
            f"{r.drain_seconds:.1f}",
            f"{r.drain_rate:,.0f}",
            f"{r.live_rate:,.0f}",
            f"{statistics.median(r.latencies_ms):.0f}",
            f"{percentile(r.latencies_ms, 99):.0f}",
            f"{r.latencies_ms[-1]:.0f}",
        )
        for r in results
    ]
    print_markdown_table(header, rows)
    if len(results) == 2:
        a, b = results
        print(
            f"\n{b.database}/{a.database}: drain {b.drain_rate / a.drain_rate:.2f}x, "
            f"p50 latency {statistics.median(b.latencies_ms) / statistics.median(a.latencies_ms):.2f}x"
        )
    print(
        f"\ndrain = a backlog relayed after it was committed; live = committed at {rate:g}/s while the relay ran "
        f"(idle pause {interval:g} s); latency = commit at the writer to receipt at the receiver."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="events committed per second in the live phase")
    parser.add_argument("--interval", type=float, default=0.1, help="the relay's pause when a pass found nothing")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    versions = [
        f"cores: {os.cpu_count()}",
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
    ]
    if "sqlite" in databases:
        versions.append(f"SQLite {sqlite3.sqlite_version}")
    print("webhook relay benchmark — " + ", ".join(versions) + f" — {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="sponsorflow-bench-") as workdir:
        results = asyncio.run(run(databases, args.events, args.rate, args.interval, Path(workdir)))
    print_table(results, args.rate, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
