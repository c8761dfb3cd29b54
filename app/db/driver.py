"""Known statements sent straight to the driver, in the session's transaction, a batch in one hop.

An execution through SQLAlchemy builds an execution context, processes its parameters and wraps its
result: some 40 µs of Python for a one-row INSERT where the DBAPI cursor's own call, reached through one
greenlet hop, costs 19 µs (bench/README.md, "Where the time goes", third round). The hot writes (an action's
rows and its audit append) are the same few statements every time, so they are compiled once per dialect
and run here on the DBAPI cursor of the session's connection. What SQLAlchemy does per statement that the
project relies on is kept: the types' bind processors, the `before_cursor_execute` listeners (statement
budgets count what is sent), and its exception wrapping and disconnect handling (app.db.errors reads
what it raises). What it would add and these statements must not need is refused when compiling: Python
side defaults of columns an INSERT leaves out, `onupdate` columns of an UPDATE.

A SELECT (or RETURNING) sent here gets its columns' result processors, worked out once per statement
from the driver's own description of the columns, as SQLAlchemy's result does; `adopt` makes a mapped
object of a row's columns and puts it in the session as if the ORM had loaded it (the hot read of a
case: the ORM's loading costs some 0.15 ms of Python more than the statement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Rows = Sequence[Mapping[str, Any]]
#: A step's rows, or how to make them from the rows the earlier steps of the batch returned.
StepRows = Rows | Callable[[list[list[Any]]], Rows]


@dataclass(frozen=True, slots=True)
class Step:
    statement: Executable
    rows: StepRows


@dataclass(slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]  # the values bound in the statement itself
    types: tuple[TypeEngine[Any], ...]  # of the columns it returns, if it returns any
    results: tuple[Callable[[Any], Any] | None, ...] | None = None  # their processors, once known

    def rows(self, fetched: Sequence[Sequence[Any]], description: Sequence[Any], dialect: Dialect) -> list[list[Any]]:
        """The rows as SQLAlchemy would give them: each column through its type's result processor."""
        if self.results is None:
            # As SQLAlchemy does: the processor may depend on what the driver says the column is.
            self.results = tuple(
                self.types[n]._cached_result_processor(dialect, column[1]) if n < len(self.types) else None
                for n, column in enumerate(description)
            )
        if not any(self.results):
            return [list(row) for row in fetched]
        return [
            [value if process is None else process(value) for value, process in zip(row, self.results, strict=True)]
            for row in fetched
        ]

    def positional(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = row[name] if name in row else self.defaults.get(name, _MISSING)
            if value is _MISSING:
                raise ValueError(f"no value for the statement's parameter {name!r}")
            values.append(value if process is None else process(value))
        return tuple(values)


_MISSING = object()


_COMPILED: dict[tuple[Executable, str, tuple[str, ...]], _Compiled] = {}


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    found = _COMPILED.get((statement, dialect.name, keys))
    if found is not None:
        return found
    if isinstance(statement, Insert):
        table = statement.table
        left_out = [c.name for c in table.columns if c.key not in keys and c.default is not None]
        if left_out:
            raise ValueError(f"an INSERT into {table} sent to the driver must set {left_out} (Python defaults)")
    if isinstance(statement, Update) and any(c.onupdate is not None for c in statement.table.columns):
        raise ValueError(f"an UPDATE of {statement.table} sent to the driver would skip its onupdate columns")
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if isinstance(statement, Insert) else None)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        process = compiled._bind_processors.get(name)
        if process is not None and not callable(process):
            raise ValueError(f"the statement's parameter {name!r} is a tuple: not sent to the driver")
        processors.append(process)
    defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
    types = tuple(column.type for column in compiled._result_columns)
    found = _COMPILED[(statement, dialect.name, keys)] = _Compiled(
        str(compiled), names, tuple(processors), defaults, types
    )
    return found


async def send(session: AsyncSession, *steps: Step) -> list[list[Any]]:
    """Run the steps in order on the session's connection (its transaction), one greenlet hop for all of
    them; returns each step's rows (empty for a statement that returns none)."""
    connection = await session.connection()
    return await connection.run_sync(_send, steps)


def _send(sync: Connection, steps: Sequence[Step]) -> list[list[Any]]:
    dialect = sync.dialect
    cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    results: list[list[Any]] = []
    try:
        for step in steps:
            rows = step.rows(results) if callable(step.rows) else step.rows
            if not rows:
                results.append([])
                continue
            compiled = _compile(step.statement, dialect, tuple(rows[0]))
            params = [compiled.positional(row) for row in rows]
            many = len(params) > 1
            sent: Any = params if many else params[0]
            if sync.dispatch.before_cursor_execute:
                sync.dispatch.before_cursor_execute(sync, cursor, compiled.sql, sent, None, many)
            try:
                if many:
                    cursor.executemany(compiled.sql, params)
                else:
                    cursor.execute(compiled.sql, params[0])
                description = cursor.description
                results.append(compiled.rows(cursor.fetchall(), description, dialect) if description else [])
            except dialect.loaded_dbapi.Error as exc:
                sync._handle_dbapi_exception(exc, compiled.sql, sent, cursor, None)
    finally:
        cursor.close()
    return results


@dataclass(frozen=True, slots=True)
class _Layout:
    columns: tuple[Any, ...]
    keys: tuple[str, ...]


_LAYOUTS: dict[Mapper[Any], _Layout] = {}


def _layout(mapper: Mapper[Any]) -> _Layout:
    found = _LAYOUTS.get(mapper)
    if found is None:
        props = list(mapper.column_attrs)
        found = _LAYOUTS[mapper] = _Layout(tuple(p.columns[0] for p in props), tuple(p.key for p in props))
    return found


def mapped_columns(mapper: Mapper[Any]) -> tuple[Any, ...]:
    """A mapper's columns, in the order `adopt` takes their values."""
    return _layout(mapper).columns


def holds(session: AsyncSession, mapper: Mapper[Any], *primary_key: Any) -> bool:
    """Whether the session already holds this object (then read it through the ORM, which hands back
    the one held, rather than `adopt` a second)."""
    return mapper.identity_key_from_primary_key(primary_key) in session.sync_session.identity_map


def adopt(session: AsyncSession, mapper: Mapper[Any], values: Sequence[Any]) -> Any:
    """The object of `mapper` whose columns (`mapped_columns`) hold `values`, persistent in the session
    as if the ORM had loaded it: changes to it are tracked and flushed as usual. The session must not
    hold it already (`holds`; SQLAlchemy refuses a second object of one identity)."""
    obj = snapshot(mapper, values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def snapshot(mapper: Mapper[Any], values: Sequence[Any]) -> Any:
    """The object of `mapper` whose columns hold `values`, in no session: a row to read, not to change
    (a reader's view is built from it; putting it in the session would cost a third of a case read's
    Python for nothing)."""
    layout = _layout(mapper)
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(zip(layout.keys, values, strict=True))
    return obj
