"""Engine and session factory: PostgreSQL through asyncpg; SQLite, whatever driver its URL names
(`sqlite://`, `sqlite+aiosqlite://`), through the inline driver of app.db.sqlite."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings

#: Connection execution option asking SQLite for BEGIN IMMEDIATE (see app.db.transactions).
SQLITE_IMMEDIATE = "sponsorflow_sqlite_immediate"
#: Connection execution option: no BEGIN on SQLite, for a read of one statement (it has its own snapshot;
#: the COMMIT or ROLLBACK SQLAlchemy then sends finds no transaction and does nothing).
SQLITE_NO_BEGIN = "sponsorflow_sqlite_no_begin"
#: A statement's parameters hold personal data (names, emails, dates of birth): an error's message, and so
#: any log line or traceback that prints it, shows the statement without them.
HIDE_PARAMETERS = True
registry.register("sqlite.sponsorflow_inline", "app.db.sqlite", "SQLiteDialect_inline")


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        return _sqlite_engine(settings)
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        hide_parameters=HIDE_PARAMETERS,
        json_serializer=write_json,
        json_deserializer=read_json,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    event.listen(engine.sync_engine, "handle_error", _lost_connection)
    return engine


def read_json(text: str | bytes) -> Any:
    """How JSON columns are read: orjson, 2.6 times json.loads on a case's stored assessment (which a
    list page decoded fifty times, 18% of its CPU). What orjson refuses and json.loads takes (NaN,
    Infinity, 1e400, a lone surrogate) is read by json.loads, so every value reads as it did. One
    difference stays: orjson reads an integer beyond 64 bits as a float; the service writes none (its
    JSON holds text, dates, amounts as text and small counts)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def write_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """How JSON is written (JSON columns, and the JSON parameters of the hot writes): orjson, which
    encodes an action's rows in 4 µs where json.dumps took 37. It writes what json.dumps wrote, as
    compact text and UTF-8 rather than \\u escapes, and also takes dates and timestamps (ISO 8601, as
    `isoformat`). What orjson refuses (an integer beyond 64 bits) is written by json.dumps, which raises
    for what neither can write. One difference stays: orjson writes NaN and infinities as null where
    json.dumps wrote tokens PostgreSQL refuses; nothing the service stores is a float."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default)


def _lost_connection(context: ExceptionContext) -> None:
    """A backend the server has just terminated can fail the next statement with asyncpg's
    InternalClientError, for the milliseconds before asyncpg reads the socket's end. SQLAlchemy does not
    take that for a disconnect, and would keep the connection in the pool for the next request to fail
    on. Taken for one, the connection is discarded and the request answers 503 with Retry-After
    (app.api.problems)."""
    original = context.original_exception
    if isinstance(original.__cause__ or original, asyncpg.InternalClientError):
        context.is_disconnect = True


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, a terminated backend) is known without a
    round trip: asyncpg saw its socket close. The pool then opens another. SQLAlchemy's pre-ping would
    ask the server instead, three round trips (BEGIN, `;`, ROLLBACK) on every checkout."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database server closed this connection")


def _sqlite_engine(settings: Settings) -> AsyncEngine:
    in_memory = ":memory:" in settings.database_url or settings.database_url.endswith("://")
    kwargs: dict[str, Any] = {"poolclass": NullPool} if in_memory else {}
    url = make_url(settings.database_url).set(drivername="sqlite+sponsorflow_inline")
    # The busy timeout is the driver's: it waits for a lock off the event loop (app.db.sqlite).
    engine = create_async_engine(
        url,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        hide_parameters=HIDE_PARAMETERS,
        json_serializer=write_json,
        json_deserializer=read_json,
        **kwargs,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that we, not the driver, emit BEGIN
        # (SQLAlchemy's "pysqlite serializable" recipe); writers then use BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not options.get(SQLITE_NO_BEGIN, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(SQLITE_IMMEDIATE, False) else "BEGIN")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
