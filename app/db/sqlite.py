"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs every cursor call in its own thread and hands the answer back through the event loop:
a few hops per statement, which cost more than the statement (engineering notes, trap 12). This driver
runs the stdlib `sqlite3` calls inline, on the event loop's thread, inside SQLAlchemy's greenlet: a
statement on a local file is microseconds of C. Only a wait leaves the loop: connections have no busy
timeout of their own, so a statement that finds the database locked by another connection fails at
once, and is then retried in a worker thread with the configured timeout, where SQLite's busy handler
sleeps without stopping the loop (the connection that holds the lock keeps running on it).

A transaction that has used `YIELD_AFTER` seconds of the loop thread's CPU yields it once before its
next statement, so a long batch (the deadline job) cannot starve requests; a request's transaction
(a millisecond or two) never gets there. CPU, not wall time: on a busy machine a request can take
longer than that by the clock, and yielding inside it would only make the next writer wait for it.
Everything else is SQLAlchemy's pysqlite dialect: the same SQL, types and transaction recipe (BEGIN
IMMEDIATE, app.db.engine) as before, and one transaction per use case is still one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, AdaptedConnection
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")
YIELD_AFTER = 0.05  # seconds of the loop thread's CPU, not of the wall clock


async def _nothing() -> None:
    """An await that does not leave the loop's current task (a greenlet switch, no loop iteration)."""


class InlineConnection(AdaptedConnection):
    """A `sqlite3` connection as SQLAlchemy's async engine expects its driver connections."""

    __slots__ = ("_busy_timeout_ms", "_held_since", "_sqlite")

    def __init__(self, connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self._connection = connection  # type: ignore[assignment]  # a sync connection: the point of it
        self._sqlite = connection
        self._busy_timeout_ms = busy_timeout_ms
        self._held_since: float | None = None  # the loop thread's CPU time when it last gave the loop back

    def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` now; if the database is locked, again off the loop, waiting for the lock."""
        now = time.thread_time()
        if self._held_since is None:
            self._held_since = now
        if now - self._held_since > YIELD_AFTER:
            await_(asyncio.sleep(0))
            self._held_since = time.thread_time()
        else:
            await_(_nothing())  # AsyncConnection.execute insists that a statement awaited something
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY or self._busy_timeout_ms <= 0:
                raise
            try:
                return await_(asyncio.to_thread(self._waiting, call, *args))
            finally:
                self._held_since = time.thread_time()

    def _waiting(self, call: Callable[..., T], *args: Any) -> T:
        self._sqlite.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        try:
            return call(*args)
        finally:
            self._sqlite.execute("PRAGMA busy_timeout = 0")

    def cursor(self, server_side: bool = False) -> InlineCursor:
        return InlineCursor(self)

    def execute(self, operation: Any, parameters: Sequence[Any] = ()) -> InlineCursor:
        return self.cursor().execute(operation, parameters)

    @property
    def isolation_level(self) -> str | None:
        return self._sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._sqlite.isolation_level = value  # type: ignore[assignment]

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._sqlite.create_function(*args, **kwargs)

    def commit(self) -> None:
        self.run(self._sqlite.commit)
        self._held_since = None

    def rollback(self) -> None:
        self._sqlite.rollback()
        self._held_since = None

    def close(self) -> None:
        self._sqlite.close()


class InlineCursor:
    """A `sqlite3` cursor whose statements go through the connection's `run`. Like SQLAlchemy's own
    async adapters it reads a statement's rows at once, so no SQLite statement stays open after it."""

    __slots__ = ("_adapted", "_cursor", "_rows")

    def __init__(self, adapted: InlineConnection) -> None:
        self._adapted = adapted
        self._cursor = adapted._sqlite.cursor()
        self._rows: deque[Any] = deque()

    def execute(self, operation: Any, parameters: Sequence[Any] = ()) -> InlineCursor:
        self._adapted.run(self._execute, operation, parameters)
        return self

    def _execute(self, operation: Any, parameters: Sequence[Any]) -> None:
        self._cursor.execute(operation, parameters)
        self._rows = deque(self._cursor.fetchall()) if self._cursor.description else deque()

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> InlineCursor:
        self._adapted.run(self._cursor.executemany, operation, seq_of_parameters)
        self._rows = deque()
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self._cursor.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's async results call this after a buffered execute: the rows are already read."""

    def setinputsizes(self, *args: Any) -> None:
        """Nothing to size: SQLite binds by value."""


class InlineDBAPI:
    """The DBAPI module SQLAlchemy sees: sqlite3's names and exceptions, connections run inline."""

    paramstyle = "qmark"

    def __init__(self) -> None:
        for name in (
            "DatabaseError",
            "DataError",
            "Error",
            "IntegrityError",
            "InterfaceError",
            "InternalError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "Warning",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))
        self.sqlite = sqlite3

    def connect(self, database: str, *, timeout: float = 5.0, **kwargs: Any) -> InlineConnection:
        kwargs.pop("check_same_thread", None)
        # No busy timeout on the connection itself: a locked database must fail fast on the loop's
        # thread; InlineConnection.run waits off it, with `timeout`.
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False, **kwargs)
        return InlineConnection(connection, int(timeout * 1000))


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    """pysqlite's dialect, for the async engine, on InlineDBAPI."""

    driver = "sponsorflow_inline"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = False
    has_terminate = False

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return InlineDBAPI()  # type: ignore[return-value]

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._sqlite
