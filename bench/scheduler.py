"""Benchmark: one scheduler pass over a table of many pending deadlines, on SQLite and PostgreSQL.

    python bench/scheduler.py [--db sqlite|postgresql|both] [--sizes 100000,1000000]
                              [--due 1000] [--batch 1000] [--repeat 5]

For each database and size: a fresh schema from the project's migrations, N pending deadlines that are
not due, `--due` rows that are due (bulk-loaded in SQL), ANALYZE, then `--repeat` timed passes of
`fire_due` (the worker's deadline job, as it runs in production), re-arming the due rows between
passes. See bench/README.md.
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
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import bindparam, event, func, select, text, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.base import UTCDateTime  # noqa: E402
from app.db.engine import create_engine, create_sessionmaker  # noqa: E402
from app.db.migrations import upgrade  # noqa: E402
from app.deadlines.models import Deadline  # noqa: E402
from app.rules import RuleBook, load_rulebook  # noqa: E402
from app.worker.deadlines import fire_due  # noqa: E402
from bench.harness import bench_organisation, print_markdown_table  # noqa: E402

PG_ADMIN_URL = os.environ.get("SPONSORFLOW_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "sponsorflow_bench"

# Everything but the id, the times and the subject is the same on every row.
COLUMNS = (
    "id, organisation_id, clock_id, subject_type, subject_id, kind, status, due_at, warn_at, pending_warnings, "
    "next_fire_at, rule_id, rule_source, nation, basis, created_at, settled_at"
)
PG_LOAD = f"""
INSERT INTO deadlines ({COLUMNS})
SELECT :prefix || lpad(g::text, 9, '0'), :org, NULL, 'licence', 'lic_' || :prefix || g, 'licence_decision', 'pending',
       CAST(:base AS timestamptz) + g * make_interval(secs => :step), NULL, CAST('[]' AS json),
       CAST(:base AS timestamptz) + g * make_interval(secs => :step), 'licence.decision.standard',
       CAST('{{"title": "t", "url": "u"}}' AS json), 'england_and_wales', 'bench', CAST(:created AS timestamptz), NULL
FROM generate_series(1, :n) AS g
"""
# SQLite stores UTCDateTime as naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format): the
# loaded rows must use the same text, as SQLite compares it as a string.
SQLITE_LOAD = f"""
WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < :n)
INSERT INTO deadlines ({COLUMNS})
SELECT :prefix || printf('%09d', g), :org, NULL, 'licence', 'lic_' || :prefix || g, 'licence_decision', 'pending',
       strftime('%Y-%m-%d %H:%M:%S', :base, '+' || (g * :step) || ' seconds') || '.000000', NULL, '[]',
       strftime('%Y-%m-%d %H:%M:%S', :base, '+' || (g * :step) || ' seconds') || '.000000',
       'licence.decision.standard', '{{"title": "t", "url": "u"}}', 'england_and_wales', 'bench', :created, NULL
FROM seq
"""


@dataclass
class Result:
    database: str
    pending: int
    due: int
    load_seconds: float
    passes: list[float]
    claims_ms: list[float]


def settings(url: str) -> Settings:
    return Settings(database_url=url, environment="development", scheduler_enabled=False, bootstrap_dev_keys=False)


async def load(engine: AsyncEngine, organisation_id: str, prefix: str, n: int, base: datetime, step: int) -> None:
    """Insert n pending licence deadlines, row g due at base + g * step seconds, in one statement."""
    base = base.replace(microsecond=0)
    if engine.dialect.name == "postgresql":
        stmt = text(PG_LOAD).bindparams(
            bindparam("base", type_=UTCDateTime()), bindparam("created", type_=UTCDateTime())
        )
        values: dict[str, Any] = {"base": base, "created": base, "step": float(step)}
    else:
        stmt = text(SQLITE_LOAD)
        naive = base.astimezone(UTC).replace(tzinfo=None)
        values = {"base": naive.isoformat(sep=" "), "created": naive.strftime("%Y-%m-%d %H:%M:%S.%f"), "step": step}
    async with engine.begin() as conn:
        await conn.execute(stmt, {"prefix": prefix, "org": organisation_id, "n": n, **values})


async def prepare(engine: AsyncEngine, pending: int, due: int) -> tuple[list[str], float]:
    """Schema, one organisation, the rows, statistics. Returns the due rows' ids and the seconds it took."""
    started = time.perf_counter()
    await upgrade(engine)
    now = datetime.now(UTC)
    async with create_sessionmaker(engine)() as session:
        org = await bench_organisation(session, now)
    # Pending rows fire from tomorrow on, one every 30 s (1,000,000 rows span about a year); due rows
    # fell due over the past few hours, one a second.
    await load(engine, org.id, "dl_pend_", pending, now + timedelta(days=1), 30)
    await load(engine, org.id, "dl_due_", due, now - timedelta(seconds=due + 3600), 1)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    async with engine.connect() as conn:
        ids = list((await conn.execute(select(Deadline.id).where(Deadline.next_fire_at <= now))).scalars())
        total = (await conn.execute(select(func.count()).select_from(Deadline))).scalar_one()
    assert len(ids) == due and total == pending + due, (len(ids), total)  # the loaded times compare correctly
    return ids, time.perf_counter() - started


async def rearm(engine: AsyncEngine, ids: list[str]) -> None:
    async with engine.begin() as conn:
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            await conn.execute(
                update(Deadline)
                .where(Deadline.id.in_(chunk))
                .values(status="pending", next_fire_at=Deadline.due_at, settled_at=None)
            )


async def measure(url: str, name: str, pending: int, due: int, batch: int, repeat: int, book: RuleBook) -> Result:
    engine = create_engine(settings(url))
    claims: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        context._bench_started = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("SELECT") and "FROM deadlines" in statement and "next_fire_at <=" in statement:
            claims.append(time.perf_counter() - context._bench_started)

    try:
        ids, load_seconds = await prepare(engine, pending, due)
        sessions = create_sessionmaker(engine)
        passes: list[float] = []
        first_claims: list[float] = []
        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)
        for i in range(repeat):
            if i:
                await rearm(engine, ids)
            claims.clear()
            started = time.perf_counter()
            fired = await fire_due(sessions, book, datetime.now(UTC), batch_size=batch)
            passes.append(time.perf_counter() - started)
            assert len(fired) == due, (len(fired), due)
            first_claims.append(claims[0] * 1000)
    finally:
        await engine.dispose()
    return Result(name, pending, due, load_seconds, passes, first_claims)


async def pg_recreate(drop_only: bool = False) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
        if not drop_only:
            await conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    finally:
        await conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB


async def pg_version() -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def run(databases: list[str], sizes: list[int], due: int, batch: int, repeat: int, workdir: Path) -> None:
    book = load_rulebook()
    results: list[Result] = []
    for database in databases:
        for size in sizes:
            if database == "postgresql":
                url = await pg_recreate()
            else:
                path = workdir / f"bench-{size}.db"
                url = f"sqlite+aiosqlite:///{path}"
            print(f"  {database}: loading {size:,} pending + {due:,} due rows ...", file=sys.stderr, flush=True)
            result = await measure(url, database, size, due, batch, repeat, book)
            results.append(result)
            print(f"  {database}: {size:,} loaded in {result.load_seconds:.1f}s", file=sys.stderr, flush=True)
            if database == "postgresql":
                await pg_recreate(drop_only=True)
            else:
                await asyncio.to_thread(remove_sqlite, path)
    print_table(results, batch)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def print_table(results: list[Result], batch: int) -> None:
    header = ("database", "pending rows", "due rows", "load s", "median s/pass", "min s/pass", "rows/s", "claim ms")
    rows = [
        (
            r.database,
            f"{r.pending:,}",
            f"{r.due:,}",
            f"{r.load_seconds:.1f}",
            f"{statistics.median(r.passes):.3f}",
            f"{min(r.passes):.3f}",
            f"{r.due / statistics.median(r.passes):,.0f}",
            f"{statistics.median(r.claims_ms):.1f}",
        )
        for r in results
    ]
    print_markdown_table(header, rows)
    print()
    print(
        f"One pass = fire_due(batch_size={batch}) finding and firing every due row (status, audit event, outbox "
        "row, commit); claim ms = the first claim query (SELECT ... FOR UPDATE SKIP LOCKED) of a pass, median."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="100000,1000000", help="pending (not due) rows, comma-separated")
    parser.add_argument("--due", type=int, default=1000, help="due rows one pass fires")
    parser.add_argument("--batch", type=int, default=1000, help="fire_due batch_size")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per size")
    args = parser.parse_args()
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    versions = [
        f"cores: {os.cpu_count()}",
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
    ]
    if "sqlite" in databases:
        versions.append(f"SQLite {sqlite3.sqlite_version}")
    if "postgresql" in databases:
        versions.append(f"PostgreSQL {asyncio.run(pg_version())}")
    print("scheduler benchmark — " + ", ".join(versions) + f" — {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="sponsorflow-bench-") as workdir:
        asyncio.run(run(databases, sizes, args.due, args.batch, args.repeat, Path(workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
