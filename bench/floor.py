"""The floor: the least a web service can do for one workflow action, on the same stack as sponsorflow.

One request locks one row, updates it and inserts one row, in one transaction, and answers a small JSON
body. Two versions, served side by side by one app so a benchmark round measures both against the
same database server:

- `POST /orm/{n}`: bare FastAPI and the SQLAlchemy async ORM (`session.get(..., with_for_update=True)`,
  an attribute change, `session.add`, commit), through asyncpg or aiosqlite;
- `POST /raw/{n}`: the same three statements on the raw driver (an asyncpg pool, or aiosqlite
  connections), no SQLAlchemy at all.

SQLite writers begin with BEGIN IMMEDIATE in both (as sponsorflow does), so neither pays for a
deadlock-and-retry a deferred BEGIN would cause. Run it with uvicorn as `bench.floor:create_floor_app`
(`--factory`), with `FLOOR_DATABASE_URL` set; `prepare` creates and fills its two tables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
from fastapi import FastAPI
from sqlalchemy import DateTime, ForeignKey, Integer, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

POOL_SIZE = 4  # sponsorflow's default pool (SPONSORFLOW_DATABASE_POOL_SIZE)


class _Base(DeclarativeBase):
    pass


class FloorItem(_Base):
    __tablename__ = "floor_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FloorLog(_Base):
    __tablename__ = "floor_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("floor_items.id"))
    note: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)
    engine = create_async_engine(url, connect_args={"timeout": 5})

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def prepare(url: str, rows: int) -> None:
    """(Re)create the floor's tables with `rows` items."""
    engine = _engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_Base.metadata.drop_all)
            await conn.run_sync(_Base.metadata.create_all)
            now = datetime.now(UTC)
            await conn.execute(
                FloorItem.__table__.insert(), [{"id": n, "counter": 0, "updated_at": now} for n in range(1, rows + 1)]
            )
    finally:
        await engine.dispose()


class _RawSqlite:
    """A few aiosqlite connections, handed out one request at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.free: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(POOL_SIZE):
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
                await conn.execute(f"PRAGMA {pragma}")
            self.free.put_nowait(conn)

    async def act(self, n: int) -> int:
        conn = await self.free.get()
        try:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute("SELECT counter FROM floor_items WHERE id = ?", (n,)) as cur:
                    row = await cur.fetchone()
                assert row is not None
                now = datetime.now(UTC).isoformat()
                await conn.execute(
                    "UPDATE floor_items SET counter = ?, updated_at = ? WHERE id = ?", (row[0] + 1, now, n)
                )
                await conn.execute(
                    "INSERT INTO floor_log (item_id, note, created_at) VALUES (?, ?, ?)", (n, "raw", now)
                )
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            return int(row[0]) + 1
        finally:
            self.free.put_nowait(conn)

    async def close(self) -> None:
        while not self.free.empty():
            await self.free.get_nowait().close()


def create_floor_app() -> FastAPI:
    url = os.environ["FLOOR_DATABASE_URL"]
    engine = _engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if url.startswith("sqlite"):
            state["sqlite"] = _RawSqlite(url.split("///", 1)[1])
            await state["sqlite"].open()
        else:
            state["pg"] = await asyncpg.create_pool(
                url.replace("postgresql+asyncpg", "postgresql"), min_size=POOL_SIZE, max_size=POOL_SIZE
            )
        yield
        if "sqlite" in state:
            await state["sqlite"].close()
        else:
            await state["pg"].close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/orm/{n}")
    async def orm(n: int) -> dict[str, int]:
        async with sessions() as session, session.begin():
            item = await session.get(FloorItem, n, with_for_update=True)
            assert item is not None
            now = datetime.now(UTC)
            item.counter += 1
            item.updated_at = now
            session.add(FloorLog(item_id=n, note="orm", created_at=now))
        return {"id": n, "counter": item.counter}

    @app.post("/raw/{n}")
    async def raw(n: int) -> dict[str, int]:
        if "sqlite" in state:
            return {"id": n, "counter": await state["sqlite"].act(n)}
        pool: asyncpg.Pool = state["pg"]
        async with pool.acquire() as conn, conn.transaction():
            counter = await conn.fetchval("SELECT counter FROM floor_items WHERE id = $1 FOR UPDATE", n)
            now = datetime.now(UTC)
            await conn.execute(
                "UPDATE floor_items SET counter = $1, updated_at = $2 WHERE id = $3", counter + 1, now, n
            )
            await conn.execute("INSERT INTO floor_log (item_id, note, created_at) VALUES ($1, 'raw', $2)", n, now)
        return {"id": n, "counter": counter + 1}

    return app
