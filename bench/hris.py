"""Benchmark: a burst of signed HRIS events against `sponsorflow serve`, applied by `sponsorflow worker`.

    python bench/hris.py [--db sqlite|postgresql|both] [--events 2000] [--employees 200]
                         [--concurrency 16] [--workers 1]

For each database: a fresh schema from the project's migrations, an organisation with an active licence,
a mapped job and a Standard Webhooks connection, then two phases of `--events` signed deliveries over
`--employees` employees (one `employee.created` each, then `employee.updated` salary changes, every
employee's events in order, the employees interleaved), posted over HTTP by `--concurrency` clients:

1. accept only: no worker runs; then `--workers` worker processes start and apply the inbox;
2. accept while applying: new employees' events posted while the workers apply them as they arrive.

It prints accept throughput and latency (p50, p99) for both phases, the time until every event is applied,
and the ratio of the accept p99 with and without applying (accepting never waits for applying). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from standardwebhooks.webhooks import Webhook  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.engine import create_engine, create_sessionmaker  # noqa: E402
from app.db.migrations import upgrade  # noqa: E402
from app.integrations.hris.models import HrisEvent  # noqa: E402
from app.organisations.principals import Role  # noqa: E402
from bench.harness import bench_key, bench_organisation  # noqa: E402

PG_ADMIN_URL = os.environ.get("SPONSORFLOW_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "sponsorflow_bench_hris"


@dataclass
class Phase:
    name: str
    latencies: list[float]
    accept_seconds: float
    busy: int  # 503 answers (retried) while accepting
    applied_seconds: float  # from the first post until the inbox holds nothing waiting

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.accept_seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(url: str) -> str:
    """Schema, an organisation and its admin key (returned)."""
    engine = create_engine(Settings(database_url=url, scheduler_enabled=False, bootstrap_dev_keys=False))
    try:
        await upgrade(engine)
        now = datetime.now(UTC)
        async with create_sessionmaker(engine)() as session:
            org = await bench_organisation(session, now)
            return await bench_key(session, org.id, Role.admin, "bench", now)
    finally:
        await engine.dispose()


async def start(args: list[str], url: str, *, embedded: bool = False) -> asyncio.subprocess.Process:
    env = os.environ | {
        "SPONSORFLOW_DATABASE_URL": url,
        "SPONSORFLOW_SCHEDULER_ENABLED": "true" if embedded else "false",
        "SPONSORFLOW_BOOTSTRAP_DEV_KEYS": "false",
        "SPONSORFLOW_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL
    )


async def serving(url: str, port: int, *, embedded: bool) -> asyncio.subprocess.Process:
    server = await start(["serve", "--port", str(port)], url, embedded=embedded)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(600):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # waiting for the server process to listen
    raise TimeoutError("sponsorflow serve did not start")


async def set_up(client: httpx.AsyncClient, key: str) -> tuple[str, str]:
    """Licence active, the job mapped, a Standard Webhooks connection: its receiving path and secret."""
    h = {"Authorization": f"Bearer {key}"}
    r = await client.post("/v1/licence", headers=h)
    for action, body in (("submit", {}), ("grant", {"licence_number": "LIC-BENCH"})):
        r = await client.post(f"/v1/licence/actions/{action}", json=body, headers=h | {"If-Match": r.headers["etag"]})
        r.raise_for_status()
    (await client.put("/v1/job-mappings/ENG-2", json={"soc_code": "2134"}, headers=h)).raise_for_status()
    return await connect(client, key)


async def connect(client: httpx.AsyncClient, admin_key: str) -> tuple[str, str]:
    """A Standard Webhooks connection: its receiving path (after `/hooks/`) and signing secret."""
    r = await client.post(
        "/v1/hris-connections",
        json={"name": "bench", "provider": "standard"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    r.raise_for_status()
    return str(r.json()["receiving_url"]).split("/hooks/")[1], str(r.json()["signing_secret"])


def signed_headers(signer: Webhook, message_id: str, body: bytes) -> dict[str, str]:
    """A delivery's Standard Webhooks headers, signed now."""
    now = datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(message_id, now, body.decode()),
        "content-type": "application/json",
    }


def deliveries(
    first: int, employees: int, events: int, base: datetime, *, sponsored: bool = True
) -> list[tuple[str, int, bytes]]:
    """(message id, employee, body): every employee's events in order, the employees interleaved;
    `sponsored=False` for employees the connection's selector leaves out."""
    per = events // employees
    out = []
    for step in range(per):
        for e in range(first, first + employees):
            kind = "created" if step == 0 else "updated"
            employee = {
                "id": f"E{e:05d}",
                "given_name": "Ada",
                "family_name": f"Worker{e}",
                "job_title": "Software engineer",
                "job_code": "ENG-2",
                "salary": f"{60_000 + step * 1_000}.00",
                "weekly_hours": "37.5",
                "start_date": "2027-03-01",
                "inside_uk": False,
                "requires_sponsorship": sponsored,
            }
            at = base + timedelta(seconds=step)
            body = {"type": f"employee.{kind}", "occurred_at": at.isoformat(), "employee": employee}
            out.append((f"msg_{e}_{step}", e, json.dumps(body).encode()))
    return out


async def burst(
    client: httpx.AsyncClient, path: str, secret: str, batch: list[tuple[str, int, bytes]], concurrency: int
) -> tuple[list[float], float, int]:
    """Post every delivery; the latency of each runs until it is accepted (a 503 is retried)."""
    signer = Webhook(secret)
    latencies: list[float] = []
    busy = [0]
    queue: asyncio.Queue[tuple[str, int, bytes]] = asyncio.Queue()
    for item in batch:
        queue.put_nowait(item)

    async def client_loop() -> None:
        while not queue.empty():
            message_id, _, body = queue.get_nowait()
            headers = signed_headers(signer, message_id, body)
            sent = time.perf_counter()
            r = await client.post(f"/hooks/{path}", content=body, headers=headers)
            while r.status_code == 503:  # busy: retried after Retry-After, as an HRIS would
                busy[0] += 1
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                r = await client.post(f"/hooks/{path}", content=body, headers=headers)
            latencies.append(time.perf_counter() - sent)
            assert r.status_code == 202, r.text

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, busy[0]


async def waiting(url: str) -> int:
    engine = create_engine(Settings(database_url=url, scheduler_enabled=False, bootstrap_dev_keys=False))
    try:
        async with engine.connect() as conn:
            stmt = select(func.count()).where(HrisEvent.status == "received")
            return int((await conn.execute(stmt)).scalar_one())
    finally:
        await engine.dispose()


async def until_applied(url: str, started: float) -> float:
    """Seconds from `started` until the inbox holds nothing waiting (polled: the workers are processes)."""
    for _ in range(36_000):
        if not await waiting(url):
            return time.perf_counter() - started
        await asyncio.sleep(0.1)  # polling the worker processes' progress
    raise TimeoutError("the inbox was not applied within an hour")


async def measure(url: str, name: str, events: int, employees: int, concurrency: int, workers: int) -> list[Phase]:
    """Both phases in the database's own deployment shape: on SQLite the default single process (the
    worker embedded in `serve`), on PostgreSQL `serve` plus `--workers` worker processes. Phase 1 posts
    to a server with no worker running, then starts the worker(s)."""
    key = await prepare(url)
    port = free_port()
    embedded = name == "sqlite"
    processes = [await serving(url, port, embedded=False)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            path, secret = await set_up(client, key)
            base = datetime.now(UTC) - timedelta(hours=1)
            first = deliveries(0, employees, events, base)
            started = time.perf_counter()
            latencies, accept, refused = await burst(client, path, secret, first, concurrency)
            assert await waiting(url) == len(first), "nothing is applied while no worker runs"
            if embedded:  # the same server again, now with its embedded worker
                processes[0].terminate()
                await processes[0].wait()
                processes = [await serving(url, port, embedded=True)]
            else:
                processes += [await start(["worker"], url) for _ in range(workers)]
            idle = Phase("accept only, then apply", latencies, accept, refused, await until_applied(url, started))
            second = deliveries(employees, employees, events, base)
            started = time.perf_counter()
            latencies, accept, refused = await burst(client, path, secret, second, concurrency)
            busy = Phase("accept while applying", latencies, accept, refused, await until_applied(url, started))
    finally:
        for process in processes:
            process.terminate()
            await process.wait()
    print(f"  {name}: done", file=sys.stderr)
    return [idle, busy]


async def pg_database(drop_only: bool = False) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        if not drop_only:
            await conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB + "#" + str(version)


async def run(databases: list[str], events: int, employees: int, concurrency: int, workers: int) -> None:
    rows: list[tuple[str, Phase]] = []
    versions = [f"SQLite {sqlite3.sqlite_version}"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in databases:
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            else:
                url, _, version = (await pg_database()).partition("#")
                versions.append(f"PostgreSQL {version}")
            try:
                rows += [(name, phase) for phase in await measure(url, name, events, employees, concurrency, workers)]
            finally:
                if name == "postgresql":
                    await pg_database(drop_only=True)
    print(
        f"\n{events} signed events over {employees} employees, {concurrency} concurrent clients, "
        f"worker embedded in serve on SQLite, {workers} worker process(es) on PostgreSQL;\n"
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {', '.join(versions)}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared)\n"
    )
    header = (
        f"| {'database':<10} | {'phase':<24} | accepted/s | accept p50 ms | accept p99 ms | 503s retried "
        "| all applied s | applied/s |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, phase in rows:
        print(
            f"| {name:<10} | {phase.name:<24} | {phase.throughput:>10,.0f} | {phase.percentile(0.5):>13.1f} "
            f"| {phase.percentile(0.99):>13.1f} | {phase.busy:>12} | {phase.applied_seconds:>13.1f} "
            f"| {len(phase.latencies) / phase.applied_seconds:>9,.0f} |"
        )
    print()
    for name in databases:
        idle, busy = (phase for db, phase in rows if db == name)
        applying = len(idle.latencies) / (idle.applied_seconds - idle.accept_seconds)
        print(
            f"{name}: accept p99 while applying / accept p99 alone = "
            f"{busy.percentile(0.99) / idle.percentile(0.99):.2f}; "
            f"accepting is {idle.throughput / applying:.1f}x faster than applying"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    asyncio.run(run(databases, args.events, args.employees, args.concurrency, args.workers))


if __name__ == "__main__":
    main()
