"""Benchmark: sponsorflow against its floors, side by side, in one run.

    python bench/throughput.py [--configs pg1,pg2,sqlite1] [--rounds 3] [--seconds 5] [--connections 16]
                               [--hires 256] [--pg-database sponsorflow_bench_http]

For each configuration (PostgreSQL with 1 and 2 uvicorn workers, SQLite with 1) it builds a fresh
database, seeds an organisation with an active licence and `--hires` employed hires, starts the floor
app (bench/floor.py) and the service (bench/serving.py, production settings, JSON access logs) with the
same uvicorn options, then runs interleaved rounds of `wrk` against both: each round measures every
kind of request once, in the same order, so a slow moment of the shared machine hits a whole round.
Ratios are to the ORM floor measured in the same round; the table shows medians over the rounds.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update

from app.db.engine import create_engine
from app.deadlines.models import Deadline
from app.obligations.models import Obligation
from bench import floor
from bench.harness import (
    HIRE_DIGITS,
    HIRE_PREFIX,
    Load,
    Measured,
    bench_settings,
    drop_pg,
    ensure_wrk,
    recreate_pg,
    run_wrk,
    seed,
    serving,
)

CONFIGS = {"pg1": ("postgresql", 1), "pg2": ("postgresql", 2), "sqlite1": ("sqlite", 1)}


@dataclass(frozen=True)
class Work:
    name: str
    server: str  # "floor" or "service"
    load: Load
    connections: int


def works(hires: int, hr_key: str, viewer_key: str, today: str, connections: int) -> list[Work]:
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
        Work("floor: ORM, 4 clients", "floor", orm, 4),
        Work("action: change_job, 4 clients", "service", action, 4),
    ]


async def settle_reports(url: str) -> None:
    """Report every obligation the last round's actions opened, so each round starts from the same cases
    (a case's response lists its open obligations: without this they would pile up round after round)."""
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
    finally:
        await engine.dispose()


async def prepare(database: str, workers: int, args: argparse.Namespace, tmp: Path) -> tuple[str, str, list[Work]]:
    if database == "postgresql":
        url = await recreate_pg(args.pg_database)
        floor_url = url
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'sponsorflow.db'}"
        floor_url = f"sqlite+aiosqlite:///{tmp / 'floor.db'}"
    engine = create_engine(bench_settings(url))
    try:
        seeded = await seed(engine, url, args.hires)
    finally:
        await engine.dispose()
    await floor.prepare(floor_url, args.hires)
    print(f"  seeded {seeded.hires} employed hires ({seeded.deadlines} open deadlines)", flush=True)
    return (
        url,
        floor_url,
        works(args.hires, seeded.hr_key, seeded.viewer_key, seeded.today.isoformat(), args.connections),
    )


def measure(config: str, args: argparse.Namespace, wrk: str, tmp: Path) -> dict[str, list[tuple[Measured, float]]]:
    database, workers = CONFIGS[config]
    print(f"{config}: {database}, {workers} worker(s)", flush=True)
    url, floor_url, planned = asyncio.run(prepare(database, workers, args, tmp))
    service_env = {
        "SPONSORFLOW_DATABASE_URL": url,
        "SPONSORFLOW_ENVIRONMENT": "production",
        "SPONSORFLOW_LOG_FORMAT": "json",
        "SPONSORFLOW_LOG_LEVEL": "INFO",
    }
    results: dict[str, list[tuple[Measured, float]]] = {w.name: [] for w in planned}
    log = tmp / f"{config}.log"
    with (
        serving("bench.floor:create_floor_app", {"FLOOR_DATABASE_URL": floor_url}, workers, log) as floor_base,
        serving("bench.serving:service_app", service_env, workers, log) as service_base,
    ):
        bases = {"floor": floor_base, "service": service_base}
        for work in planned:  # warm-up: connections, caches, the first request's imports
            run_wrk(wrk, bases[work.server], work.load, 1, work.connections, tmp)
        for round_no in range(args.rounds):
            asyncio.run(settle_reports(url))
            measured = {
                w.name: run_wrk(wrk, bases[w.server], w.load, args.seconds, w.connections, tmp) for w in planned
            }
            orm = measured[planned[0].name].requests_per_second
            for name, m in measured.items():
                results[name].append((m, m.requests_per_second / orm))
            print(
                f"  round {round_no + 1}: "
                + ", ".join(f"{n.split(':')[0]} {m.requests_per_second:.0f}" for n, m in measured.items()),
                flush=True,
            )
    if database == "postgresql":
        asyncio.run(drop_pg(args.pg_database))
    return results


def table(all_results: dict[str, dict[str, list[tuple[Measured, float]]]], connections: int) -> str:
    lines = [
        f"| configuration | work (wrk -c{connections} unless stated) | req/s | p50 ms | p99 ms "
        "| req/s vs ORM floor, same round |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for config, results in all_results.items():
        database, workers = CONFIGS[config]
        label = (
            f"{'PostgreSQL' if database == 'postgresql' else 'SQLite'}, {workers} worker{'s' if workers > 1 else ''}"
        )
        for name, runs in results.items():
            rps = statistics.median(m.requests_per_second for m, _ in runs)
            p50 = statistics.median(m.p50_ms for m, _ in runs)
            p99 = statistics.median(m.p99_ms for m, _ in runs)
            ratio = statistics.median(r for _, r in runs)
            lines.append(f"| {label} | {name} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {ratio:.2f} |")
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
    print()
    print(
        f"{started:%Y-%m-%d}, {os.cpu_count()} cores (load average {load[0]:.1f} at start), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; {args.rounds} interleaved rounds of "
        f"wrk -t2 -d{args.seconds:g}s over {args.hires} hires; medians of the rounds"
    )
    print()
    print(table(all_results, args.connections))


if __name__ == "__main__":
    main()
