"""Benchmark: sponsorflow against its floors, side by side, in one run.

    python bench/throughput.py [--configs pg1,pg2,sqlite1] [--rounds 3] [--seconds 5] [--connections 16]
                               [--hires 256] [--pg-database sponsorflow_bench_http]

For each configuration (PostgreSQL with 1 and 2 uvicorn workers, SQLite with 1) it builds a fresh
database, seeds an organisation with an active licence and `--hires` employed hires, starts the floor
app (bench/floor.py) and the service (`app.main:serve_app`, the factory `sponsorflow serve --workers`
runs; production settings, JSON access logs) with the same uvicorn options, then runs interleaved
rounds of `wrk` against both: each round measures every kind of request once, in the same order, so a
slow moment of the shared machine hits a whole round.
Beside each rate it prints the CPU time per request of the server's processes and of the PostgreSQL
backends serving it, which the machine's other load moves far less than the rates. Ratios are to the
ORM floor measured in the same round; the table shows medians over the rounds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from httpx import ASGITransport, AsyncClient
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from app.db.engine import create_engine
from app.deadlines.models import Deadline
from app.integrations.hris.models import HrisEvent
from app.main import create_app
from app.obligations.models import Obligation
from bench import floor, hris
from bench.harness import (
    HIRE_DIGITS,
    HIRE_PREFIX,
    Load,
    Measured,
    bench_settings,
    drop_pg,
    ensure_wrk,
    production_env,
    recreate_pg,
    run_wrk,
    seed,
    serving,
)

CONFIGS = {"pg1": ("postgresql", 1), "pg2": ("postgresql", 2), "sqlite1": ("sqlite", 1)}
#: Signed HRIS deliveries prepared per second of a wrk run: more than any row here serves.
HRIS_PER_SECOND = 2_000


@dataclass(frozen=True)
class Work:
    name: str
    server: str  # "floor" or "service"
    load: Load | Callable[[float], Load]  # a callable prepares a fresh Load for a run of that many seconds
    connections: int

    def for_run(self, seconds: float) -> Load:
        return self.load if isinstance(self.load, Load) else self.load(seconds)


@dataclass(frozen=True)
class HrisDeliveries:
    """Signed deliveries to one Standard Webhooks connection, each new (its own message id and employee),
    about employees its selector leaves out: accepted and stored, and on SQLite, where the embedded
    worker runs, applied as `ignored` without opening cases."""

    path: str
    secret: str
    workdir: Path
    numbers: itertools.count[int]

    def __call__(self, seconds: float) -> Load:
        count = max(1, round(seconds * HRIS_PER_SECOND))
        signer = Webhook(self.secret)
        first = next(self.numbers)
        for _ in range(count - 1):
            next(self.numbers)
        requests = []
        for message_id, _, body in hris.deliveries(first, count, count, datetime.now(UTC), sponsored=False):
            headers = hris.signed_headers(signer, message_id, body)
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            requests.append(
                f"POST /hooks/{self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}\r\n"
                + body.decode()
            )
        file = self.workdir / "hris-requests.bin"
        file.write_bytes("\0".join(requests).encode())
        return Load("POST", f"/hooks/{self.path}", requests=file, prepared=count)


def works(
    hires: int, hr_key: str, viewer_key: str, today: str, connections: int, deliveries: HrisDeliveries
) -> list[Work]:
    hire = f"/v1/hires/{HIRE_PREFIX}%0{HIRE_DIGITS}d"
    change_job = f'{{"effective_date": "{today}", "job_title": "Senior engineer"}}'
    action = Load("POST", hire + "/actions/change_job", hires, change_job, hr_key)
    orm = Load("POST", "/orm/%d", hires)
    return [
        Work("floor: ORM lock+update+insert", "floor", orm, connections),
        Work("floor: raw driver, same", "floor", Load("POST", "/raw/%d", hires), connections),
        Work("action: change_job", "service", action, connections),
        Work("case read: GET /v1/hires/{id}", "service", Load("GET", hire, hires, key=viewer_key), connections),
        Work(
            "list page: GET /v1/hires",
            "service",
            Load("GET", "/v1/hires?limit=50&state=employed", key=viewer_key),
            connections,
        ),
        Work("HRIS webhook accept", "service", deliveries, connections),
        Work("floor: ORM, 4 clients", "floor", orm, 4),
        Work("action: change_job, 4 clients", "service", action, 4),
    ]


async def settle(url: str) -> None:
    """Before each of the service's rows (untimed): report every obligation the actions before it opened,
    so each row starts from the same cases (a case's response lists its open obligations, and the action's
    guard counts them: without this they would pile up row after row), and set aside the HRIS deliveries
    the embedded worker has not applied yet (it would still be applying them, on the same CPU, during the
    next row)."""
    engine = create_engine(bench_settings(url))
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Deadline)
                .where(Deadline.subject_type == "obligation", Deadline.status.in_(("pending", "warned")))
                .values(**Deadline.closed("met", now))
            )
            await conn.execute(
                update(Obligation).where(Obligation.status.in_(("open", "overdue"))).values(status="reported")
            )
            await conn.execute(
                update(HrisEvent).where(HrisEvent.status == "received").values(status="ignored", processed_at=now)
            )
    finally:
        await engine.dispose()


async def unprepare(database: str, args: argparse.Namespace) -> None:
    """Drop what `prepare` made on PostgreSQL (on SQLite its files go with the temporary directory)."""
    if database == "postgresql":
        await drop_pg(args.pg_database)
        await drop_pg(f"{args.pg_database}_floor")


async def prepare(database: str, args: argparse.Namespace, tmp: Path) -> tuple[str, str, list[Work]]:
    """The service's database and the floor's (on PostgreSQL two databases of the same server, so each
    server's backends can be told apart), seeded; returns their URLs and the rows to measure."""
    if database == "postgresql":
        url = await recreate_pg(args.pg_database)
        floor_url = await recreate_pg(f"{args.pg_database}_floor")
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'sponsorflow.db'}"
        floor_url = f"sqlite+aiosqlite:///{tmp / 'floor.db'}"
    engine = create_engine(bench_settings(url))
    try:
        seeded = await seed(engine, url, args.hires)
        app = create_app(bench_settings(url), engine=engine)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
            path, secret = await hris.connect(client, seeded.admin_key)
    finally:
        await engine.dispose()
    await floor.prepare(floor_url, args.hires)
    print(f"  seeded {seeded.hires} employed hires ({seeded.deadlines} open deadlines)", flush=True)
    deliveries = HrisDeliveries(path, secret, tmp, itertools.count())
    planned = works(
        args.hires, seeded.hr_key, seeded.viewer_key, seeded.today.isoformat(), args.connections, deliveries
    )
    return url, floor_url, planned


@dataclass(frozen=True)
class Row:
    measured: Measured
    ratio: float  # req/s ÷ the ORM floor's in the same round
    cpu_ratio: float  # the ORM floor's CPU ms per request ÷ this row's, same round (> 1: cheaper)


def measure(config: str, args: argparse.Namespace, wrk: str, tmp: Path) -> dict[str, list[Row]]:
    database, workers = CONFIGS[config]
    print(f"{config}: {database}, {workers} worker(s)", flush=True)
    url, floor_url, planned = asyncio.run(prepare(database, args, tmp))
    service_env = production_env(url, SPONSORFLOW_LOG_LEVEL="INFO")
    results: dict[str, list[Row]] = {w.name: [] for w in planned}
    log = tmp / f"{config}.log"
    floor_env = {"FLOOR_DATABASE_URL": floor_url}
    with (
        serving("bench.floor:create_floor_app", floor_env, workers, log, floor_url) as floor_server,
        serving("app.main:serve_app", service_env, workers, log, url) as service_server,
    ):
        servers = {"floor": floor_server, "service": service_server}
        for work in planned:  # warm-up: connections, caches, the first request's imports
            run_wrk(wrk, servers[work.server], work.for_run(1), 1, work.connections, tmp)
        for round_no in range(args.rounds):
            measured = {}
            for w in planned:
                if w.server == "service":
                    asyncio.run(settle(url))
                measured[w.name] = run_wrk(
                    wrk, servers[w.server], w.for_run(args.seconds), args.seconds, w.connections, tmp
                )
            orm = measured[planned[0].name]
            for name, m in measured.items():
                results[name].append(Row(m, m.requests_per_second / orm.requests_per_second, orm.cpu_ms / m.cpu_ms))
            print(
                f"  round {round_no + 1}: "
                + ", ".join(
                    f"{n.split(':')[0]} {m.requests_per_second:.0f}/s {m.cpu_ms:.2f} ms" for n, m in measured.items()
                ),
                flush=True,
            )
    asyncio.run(unprepare(database, args))
    return results


def table(all_results: dict[str, dict[str, list[Row]]], connections: int) -> str:
    lines = [
        f"| configuration | work (wrk -c{connections} unless stated) | req/s | p50 ms | p99 ms "
        "| CPU ms/req: app + db | req/s vs ORM floor, same round | CPU/req: ORM floor's ÷ this |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config, results in all_results.items():
        database, workers = CONFIGS[config]
        label = (
            f"{'PostgreSQL' if database == 'postgresql' else 'SQLite'}, {workers} worker{'s' if workers > 1 else ''}"
        )
        for name, rows in results.items():

            def median(pick: Callable[[Row], float], runs: list[Row] = rows) -> float:
                return statistics.median(pick(r) for r in runs)

            app, db = median(lambda r: r.measured.app_cpu_ms), median(lambda r: r.measured.db_cpu_ms)
            lines.append(
                f"| {label} | {name} | {median(lambda r: r.measured.requests_per_second):,.0f} "
                f"| {median(lambda r: r.measured.p50_ms):.1f} | {median(lambda r: r.measured.p99_ms):.1f} "
                f"| {app:.2f} + {db:.2f} | {median(lambda r: r.ratio):.2f} | {median(lambda r: r.cpu_ratio):.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="pg1,pg2,sqlite1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--hires", type=int, default=256)
    parser.add_argument(
        "--pg-database", default=os.environ.get("SPONSORFLOW_BENCH_PG_DATABASE", "sponsorflow_bench") + "_http"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    load = os.getloadavg()
    started = datetime.now(UTC)
    all_results = {}
    with tempfile.TemporaryDirectory(prefix="sponsorflow-bench-") as tmp:
        for config in args.configs.split(","):
            all_results[config] = measure(config, args, wrk, Path(tmp))
    end = os.getloadavg()
    print()
    print(
        f"{started:%Y-%m-%d}, {os.cpu_count()} cores (load average {load[0]:.1f} at start, {end[0]:.1f} at the end), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {args.rounds} interleaved rounds of "
        f"wrk -t2 -d{args.seconds:g}s over {args.hires} hires; medians of the rounds"
    )
    print()
    print(table(all_results, args.connections))


if __name__ == "__main__":
    main()
