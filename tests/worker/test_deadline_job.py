"""The scheduler as it runs in production: several `sponsorflow worker` processes sharing one table, a
worker killed mid-run, a restart, and a due query whose cost follows the due rows, not the table.

Rows are bulk-inserted with SQLAlchemy Core (licence deadlines: no case to lock), so 10,000 rows take a
fraction of a second to set up.

The last two tests pin two PostgreSQL bugs found here and fixed in the deadline job: a claim that sorted
the whole backlog (app/deadlines/service.py), and passes that deadlocked on organisation counters
(app/worker/deadlines.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit import service as audit_service
from app.audit.models import Event, OutboxMessage
from app.db.engine import create_engine, create_sessionmaker
from app.deadlines.models import Deadline
from app.deadlines.schemas import Fired
from app.ids import new_id
from app.organisations.models import Organisation
from app.rules import RuleBook, load_rulebook
from app.sandbox.models import TestClock as SandboxClock  # not named Test*: pytest would try to collect it
from app.worker.deadlines import fire_due
from tests.support.databases import PG_URL, make_settings
from tests.support.tenants import make_tenant

ROOT = Path(__file__).resolve().parents[2]
N = 10_000


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rulebook()


# --- set-up and checks ------------------------------------------------------------------------------


async def insert_deadlines(
    engine: AsyncEngine,
    organisation_id: str,
    n: int,
    *,
    next_fire_at: datetime,
    warn_at: datetime | None = None,
    due_at: datetime | None = None,
    clock_id: str | None = None,
    spread: timedelta = timedelta(seconds=1),
) -> list[str]:
    """Insert `n` pending licence deadlines; row i fires at `next_fire_at - i * spread`. Returns their ids."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        fire_at = next_fire_at - i * spread
        rows.append(
            {
                "id": new_id("dl"),
                "organisation_id": organisation_id,
                "clock_id": clock_id,
                "subject_type": "licence",
                "subject_id": f"lic_test_{i}",
                "kind": "licence_decision",
                "status": "pending",
                "due_at": due_at or fire_at,
                "warn_at": warn_at,
                "pending_warnings": [],
                "next_fire_at": fire_at,
                "rule_id": "licence.decision.standard",
                "rule_source": {"title": "t", "url": "u"},
                "nation": "england_and_wales",
                "basis": "test",
                "created_at": now,
                "settled_at": None,
            }
        )
    async with engine.begin() as conn:
        for start in range(0, n, 2_000):
            await conn.execute(insert(Deadline), rows[start : start + 2_000])
    return [r["id"] for r in rows]


async def breached_count(engine: AsyncEngine, organisation_id: str) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).where(Deadline.organisation_id == organisation_id, Deadline.status == "breached")
        return int((await conn.execute(stmt)).scalar_one())


@dataclass
class Trail:
    """What the audit trail of one organisation holds."""

    statuses: Counter[str]
    breaches: Counter[str]  # deadline id -> number of deadline.breached events
    seqs: list[int]
    event_seq: int
    outbox: int


async def trail(engine: AsyncEngine, organisation_id: str) -> Trail:
    async with engine.connect() as conn:
        by_status = select(Deadline.status, func.count()).where(Deadline.organisation_id == organisation_id)
        statuses: Counter[str] = Counter(dict((await conn.execute(by_status.group_by(Deadline.status))).all()))
        events = (
            await conn.execute(
                select(Event.seq, Event.type, Event.data)
                .where(Event.organisation_id == organisation_id)
                .order_by(Event.seq)
            )
        ).all()
        event_seq = (
            await conn.execute(select(Organisation.event_seq).where(Organisation.id == organisation_id))
        ).scalar_one()
        outbox = (
            await conn.execute(select(func.count()).where(OutboxMessage.organisation_id == organisation_id))
        ).scalar_one()
    return Trail(
        statuses=statuses,
        breaches=Counter(data["deadline_id"] for _, type_, data in events if type_ == "deadline.breached"),
        seqs=[seq for seq, _, _ in events],
        event_seq=int(event_seq),
        outbox=int(outbox),
    )


def assert_consistent(t: Trail) -> None:
    """Every committed breach has exactly one event and one outbox row, numbered 1..n without a gap."""
    assert t.seqs == list(range(1, len(t.seqs) + 1)), "event seq values have gaps or duplicates"
    assert t.event_seq == len(t.seqs), (t.event_seq, len(t.seqs))
    assert t.outbox == len(t.seqs), (t.outbox, len(t.seqs))
    assert t.breaches.total() == t.statuses["breached"], (t.breaches.total(), t.statuses)
    assert set(t.breaches.values()) <= {1}, [d for d, c in t.breaches.items() if c > 1][:5]


def assert_each_breached_once(t: Trail, ids: Sequence[str]) -> None:
    assert t.statuses == Counter({"breached": len(ids)}), t.statuses
    assert set(t.breaches) == set(ids)
    assert len(t.seqs) == len(ids)
    assert_consistent(t)


# --- worker processes -------------------------------------------------------------------------------


def worker_env(batch_size: int) -> dict[str, str]:
    return os.environ | {
        "SPONSORFLOW_DATABASE_URL": PG_URL,
        "SPONSORFLOW_SCHEDULER_BATCH_SIZE": str(batch_size),
        "SPONSORFLOW_LOG_LEVEL": "WARNING",
    }


@asynccontextmanager
async def workers(count: int, batch_size: int) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`sponsorflow worker --once` processes, started together; killed on the way out if still running."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "worker",
            "--once",
            env=worker_env(batch_size),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
        for process in processes:
            await process.wait()


async def finish(process: asyncio.subprocess.Process) -> int:
    """Wait for a worker to exit cleanly; returns how many rows it reported firing."""
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-3000:]
    match = re.search(r"\bdeadlines=(\d+)\b", stdout.decode())
    assert match, stdout.decode()
    return int(match.group(1))


async def wait_for_dead_transactions(engine: AsyncEngine, table: str = "deadlines") -> None:
    """Wait until no other session holds a lock on `table`: PostgreSQL ends a killed client's backend,
    and rolls its transaction back, once it notices the closed socket."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = :table AND l.pid <> pg_backend_pid() "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    for _ in range(200):
        async with engine.connect() as conn:
            if (await conn.execute(query, {"table": table})).scalar_one() == 0:
                return
        await asyncio.sleep(0.05)  # waiting for the server to reap another process's session
    pytest.fail(f"a killed worker's transaction still holds locks on {table}")


# --- tests --------------------------------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.processes
async def test_three_worker_processes_fire_every_due_row_exactly_once(db: AsyncEngine) -> None:
    tenant = await make_tenant(db)
    ids = await insert_deadlines(db, tenant.organisation_id, N, next_fire_at=datetime.now(UTC) - timedelta(hours=1))

    async with workers(3, batch_size=50) as processes:
        reported = await asyncio.gather(*(finish(p) for p in processes))

    assert sum(reported) == N, reported
    assert_each_breached_once(await trail(db, tenant.organisation_id), ids)


@pytest.mark.postgres_only
@pytest.mark.processes
async def test_a_worker_killed_mid_run_leaves_nothing_half_written(db: AsyncEngine) -> None:
    tenant = await make_tenant(db)
    ids = await insert_deadlines(db, tenant.organisation_id, N, next_fire_at=datetime.now(UTC) - timedelta(hours=1))

    async with workers(1, batch_size=20) as (process,):
        for _ in range(1_200):
            if process.returncode is not None or await breached_count(db, tenant.organisation_id) >= 20:
                break
            await asyncio.sleep(0.05)  # waiting for the worker process to commit a batch, not for time to pass
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL, "the worker finished before it could be killed"
    await wait_for_dead_transactions(db)

    after_kill = await trail(db, tenant.organisation_id)
    assert 0 < after_kill.statuses["breached"] < N, after_kill.statuses
    assert after_kill.statuses["pending"] == N - after_kill.statuses["breached"]
    assert_consistent(after_kill)

    async with workers(1, batch_size=200) as (process,):
        reported = await finish(process)
    assert reported == N - after_kill.statuses["breached"]
    assert_each_breached_once(await trail(db, tenant.organisation_id), ids)


async def test_a_restarted_scheduler_fires_each_due_row_once(db: AsyncEngine, book: RuleBook) -> None:
    tenant = await make_tenant(db)
    org = tenant.organisation_id
    url = db.url.render_as_string(hide_password=False)
    now = datetime.now(UTC).replace(microsecond=0)

    before = create_engine(make_settings(url))
    due = await insert_deadlines(before, org, 30, next_fire_at=now - timedelta(minutes=1))
    later = await insert_deadlines(before, org, 10, next_fire_at=now + timedelta(days=3))
    an_hour_ago = now - timedelta(hours=1)
    warn_first = await insert_deadlines(
        before, org, 1, next_fire_at=an_hour_ago, warn_at=an_hour_ago, due_at=now + timedelta(days=2)
    )
    async with before.begin() as conn:
        clock_id = new_id("clk")
        await conn.execute(
            insert(SandboxClock).values(id=clock_id, name=None, frozen_time=now, version=1, created_at=now)
        )
    on_test_clock = await insert_deadlines(before, org, 3, next_fire_at=now - timedelta(minutes=1), clock_id=clock_id)
    await before.dispose()  # what a restart does: every connection closed

    after = create_engine(make_settings(url))
    try:
        sessions = create_sessionmaker(after)
        fired = await fire_due(sessions, book, now, batch_size=7)
        again = await fire_due(sessions, book, now, batch_size=7)
    finally:
        await after.dispose()

    assert Counter((f.deadline_id, f.outcome) for f in fired) == Counter(
        {(d, "breached"): 1 for d in due} | {(warn_first[0], "warned"): 1}
    )
    assert again == []
    async with db.connect() as conn:
        rows = {r.id: r for r in (await conn.execute(select(Deadline).where(Deadline.organisation_id == org))).all()}
    for i, d in enumerate(later):
        assert rows[d].status == "pending"
        assert rows[d].next_fire_at == now + timedelta(days=3) - i * timedelta(seconds=1)
    assert rows[warn_first[0]].status == "warned"
    assert rows[warn_first[0]].next_fire_at == now + timedelta(days=2)
    assert all(rows[d].status == "pending" for d in on_test_clock)
    t = await trail(db, org)
    assert sorted(t.breaches) == sorted(due)
    assert len(t.seqs) == len(due) + 1  # the breaches and one warning
    assert_consistent(t)


async def claim_statement(
    engine: AsyncEngine, book: RuleBook, now: datetime, batch_size: int
) -> tuple[str, Any, list[Fired]]:
    """Run a scheduler pass and return its first claim query exactly as sent (SQL and driver parameters),
    and what the pass fired."""
    seen: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM deadlines" in statement and "next_fire_at <=" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        fired = await fire_due(create_sessionmaker(engine), book, now, batch_size=batch_size)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    statement, parameters = seen[0]
    return statement, parameters, fired


async def explain_analyze(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """PostgreSQL's EXPLAIN ANALYZE of a statement, in a transaction rolled back after (it takes row locks)."""
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
        plan = "\n".join(r[0] for r in result)
        await conn.rollback()
    return plan


async def test_the_due_query_reads_the_due_index_not_the_table(db: AsyncEngine, book: RuleBook) -> None:
    tenant = await make_tenant(db)
    org = tenant.organisation_id
    now = datetime.now(UTC)
    await insert_deadlines(db, org, 20_000, next_fire_at=now + timedelta(days=400), spread=timedelta(minutes=20))
    settled = await insert_deadlines(db, org, 50, next_fire_at=now - timedelta(days=1))
    async with db.begin() as conn:
        await conn.execute(update(Deadline).where(Deadline.id.in_(settled)).values(status="met", next_fire_at=None))
    due = await insert_deadlines(db, org, 5, next_fire_at=now - timedelta(minutes=5))
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE"))

    # The scheduler's own claim query, exactly as it sends it.
    statement, parameters, fired = await claim_statement(db, book, now, batch_size=200)
    assert sorted(f.deadline_id for f in fired) == sorted(due)

    async with db.begin() as conn:  # make the same rows due again for EXPLAIN ANALYZE
        await conn.execute(
            update(Deadline).where(Deadline.id.in_(due)).values(status="pending", next_fire_at=Deadline.due_at)
        )

    if db.dialect.name == "postgresql":
        # Settling and firing leave dead entries in the due index until vacuum clears them (INDEX_CLEANUP ON:
        # with this few dead rows, a plain VACUUM would skip the indexes).
        async with db.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM (INDEX_CLEANUP ON, ANALYZE) deadlines"))
        plan = await explain_analyze(db, statement, parameters)
        # An ordered index scan, or a bitmap scan of the same range then a sort of the due rows: either way
        # the index range is bounded by next_fire_at and the scan reads the due rows, not the 20,000 others
        # (up to the 55 dead entries too, should a concurrent snapshot keep vacuum from removing them).
        assert re.search(r"Index Cond: \(\(clock_id IS NULL\) AND \(next_fire_at <= ", plan), plan
        read = re.search(r"Index Scan (?:using|on) ix_deadlines_due .*\(actual .*rows=(\d+) loops=1\)", plan)
        assert read and 5 <= int(read.group(1)) <= 60, plan
        assert "Seq Scan" not in plan and "Rows Removed" not in plan, plan
    else:
        async with db.connect() as conn:
            result = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            details = [str(r.detail) for r in result]
        plan = "\n".join(details)
        assert any("USING INDEX ix_deadlines_due (clock_id=? AND next_fire_at<?)" in d for d in details), plan
        assert "SCAN deadlines" not in plan and "TEMP B-TREE" not in plan, plan


# --- a claim reads one batch, not the whole backlog (PostgreSQL) ----------------------------------------


@pytest.mark.postgres_only
async def test_claiming_a_batch_reads_a_batch_not_the_whole_backlog(db: AsyncEngine, book: RuleBook) -> None:
    """The claim orders by (clock_id, next_fire_at), the index's own order. Ordered by next_fire_at alone,
    PostgreSQL (which does not treat `clock_id IS NULL` as pinning the leading column) fetched and sorted
    every due row before the LIMIT, so draining a backlog of B rows in batches of b cost O(B^2 / b)."""
    org = (await make_tenant(db)).organisation_id
    now = datetime.now(UTC)
    await insert_deadlines(db, org, 5_000, next_fire_at=now + timedelta(days=400), spread=timedelta(minutes=20))
    await insert_deadlines(db, org, 5_000, next_fire_at=now - timedelta(minutes=1))  # a backlog
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE deadlines"))
    # The claim query of a pass a day earlier (nothing due then, so nothing fires), run with `now`.
    statement, parameters, fired = await claim_statement(db, book, now - timedelta(days=1), batch_size=50)
    assert fired == []
    plan = await explain_analyze(db, statement, tuple(now if isinstance(p, datetime) else p for p in parameters))

    read = [int(n) for n in re.findall(r"Scan .*\(actual .*rows=(\d+) loops=1\)", plan)]
    assert read and max(read) <= 50 and "Sort" not in plan, f"a claim of 50 reads {max(read)} rows:\n{plan}"


# --- passes spanning organisations do not deadlock on their counters (PostgreSQL) ----------------------

_who: ContextVar[str] = ContextVar("scheduler_pass")


@pytest.mark.postgres_only
async def test_two_passes_whose_batches_span_two_organisations_do_not_deadlock(
    db: AsyncEngine, book: RuleBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass records events organisation by organisation in sorted order, and each record locks that
    organisation's counter row until commit. In first-seen order, two workers holding rows of A and B in
    opposite orders locked A then B and B then A, and PostgreSQL aborted one pass as a deadlock."""
    a = (await make_tenant(db, name="A Ltd")).organisation_id
    b = (await make_tenant(db, name="B Ltd")).organisation_id
    now = datetime.now(UTC)
    order = [a, b, b, a]  # by next_fire_at: pass 1 gets [A, B], pass 2 gets [B, A]
    ids = [
        (await insert_deadlines(db, org, 1, next_fire_at=now - timedelta(minutes=10 - i)))[0]
        for i, org in enumerate(order)
    ]
    first_locked = asyncio.Event()
    second_recorded = asyncio.Event()
    calls: Counter[str] = Counter()
    real_record = audit_service.record

    async def someone_waits_for_a_lock() -> bool:
        async with db.connect() as conn:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            return bool((await conn.execute(query)).scalar_one())

    async def record(*args: Any, **kwargs: Any) -> list[Event]:
        who = _who.get()
        calls[who] += 1
        events = await real_record(*args, **kwargs)
        if who == "pass 1" and calls[who] == 1:
            first_locked.set()
            for _ in range(400):
                if second_recorded.is_set() or await someone_waits_for_a_lock():
                    break
                await asyncio.sleep(0.05)  # waiting for the other pass's session, not for time to pass
        if who == "pass 2" and calls[who] == 1:
            second_recorded.set()
        return events

    monkeypatch.setattr(audit_service, "record", record)
    sessions = create_sessionmaker(db)

    async def scheduler_pass(name: str) -> list[str]:
        _who.set(name)
        if name == "pass 2":
            await first_locked.wait()
        return [f.deadline_id for f in await fire_due(sessions, book, now, batch_size=2)]

    results = await asyncio.gather(scheduler_pass("pass 1"), scheduler_pass("pass 2"), return_exceptions=True)

    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"a scheduler pass failed: {failures[0]!r}"
    assert sorted(d for r in results if isinstance(r, list) for d in r) == sorted(ids)
    for org in (a, b):
        assert_consistent(await trail(db, org))
