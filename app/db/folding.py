"""A transaction's last writes folded into one PostgreSQL statement.

The ORM's flush sends one statement per table it writes (an action: the case's UPDATE, then the
obligation's and the deadline's INSERTs), each a round trip, through the unit of work's machinery. A
writer whose last statement is its audit append (app.audit) can instead hand what the session holds
pending to that statement: each pending row becomes a data-modifying CTE reading its values from a JSON
parameter (`json_populate_recordset(NULL::table, ...)`, typed by the table's own row type), and the
whole write is one round trip. Foreign keys between the rows hold: PostgreSQL checks them at the end of
the statement.

Only classes registered with `fold_writes` are folded, and only when everything pending is of those
classes and plain: single-table mappings without relationships, every column of a new row either set or
with a scalar or callable Python default, no deletes, no savepoint open (an outer writer may still use
the objects). Anything else is flushed as usual. Folded objects leave the session (expunged, still
readable): the statement wrote them, and the commit must not write them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Column, Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ClassManager, Mapper, class_mapper, object_mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.db.driver import Step
from app.db.engine import write_json

_FOLDABLE: set[type] = set()
T = TypeVar("T")


def fold_writes(*classes: type) -> None:
    """Allow these mapped classes' pending rows to be folded (see the module's docstring)."""
    _FOLDABLE.update(classes)


_KEYS_CHECKED: set[tuple[type, frozenset[str]]] = set()
# A class's instance factory: class_mapper's lookup cost a third of a new row.
_MANAGERS: dict[type, ClassManager[Any]] = {}


def new_row(cls: type[T], **values: Any) -> T:
    """A new object of a class registered with `fold_writes`, to `session.add` as usual, made without the
    ORM's attribute events: its constructor records each value as a change, which costs more than an
    action's rules (two rows of every action), and a new row's INSERT reads its values, not the changes."""
    keys = frozenset(values)
    if (cls, keys) not in _KEYS_CHECKED:
        if cls not in _FOLDABLE:
            raise TypeError(f"{cls.__name__} is not registered with fold_writes")
        unknown = keys - {prop.key for prop in class_mapper(cls).column_attrs}
        if unknown:
            raise TypeError(f"{cls.__name__} has no columns {sorted(unknown)}")
        _KEYS_CHECKED.add((cls, keys))
        _MANAGERS[cls] = class_mapper(cls).class_manager
    obj: T = _MANAGERS[cls].new_instance()
    obj.__dict__.update(values)
    return obj


@dataclass
class Folded:
    """The pending writes as rows: new ones by table, and changed columns of existing ones."""

    inserts: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[tuple[Table, tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    objects: list[object] = field(default_factory=list)

    def ctes(self, dialect: Any) -> tuple[list[str], dict[str, str]]:
        """PostgreSQL: the data-modifying CTEs (SQL) and their JSON parameters."""
        parts: list[str] = []
        params: dict[str, str] = {}
        for n, (table, rows) in enumerate(self.inserts.items()):
            shape = _shape(table, tuple(rows[0]), None)
            parts.append(shape.cte.format(n=n))
            params[f"fold_i{n}"] = write_json([shape.json_row(row, dialect) for row in rows], _json_value)
        for n, (table, keys, row) in enumerate(self.updates):
            shape = _shape(table, tuple(row), keys)
            parts.append(shape.cte.format(n=n))
            params[f"fold_u{n}"] = write_json(shape.json_row(row, dialect), _json_value)
        return parts, params

    def steps(self) -> list[Step]:
        """Elsewhere (SQLite: no round trips to save): the same rows as plain statements for the driver
        (app.db.driver), one per table and changed row, without the unit of work's bookkeeping."""
        # Parents first: SQLite checks each foreign key as the row goes in.
        steps = [Step(_insert(table), self.inserts[table]) for table in sorted(self.inserts, key=_dependency_order)]
        for table, keys, row in self.updates:
            params = {f"fold_{k}" if k in keys else k: v for k, v in row.items()}
            steps.append(Step(_update(table, keys, tuple(row)), [params]))
        return steps

    def forget(self, session: AsyncSession) -> None:
        """The statements wrote them: the session must not write them again at commit."""
        sync = session.sync_session
        if len(self.objects) == len(sync.identity_map) + len(sync.new):
            # The session holds nothing else (an action's case and its new rows): emptied at once, a tenth
            # of what expunging each costs (its cascade walk, ~10 µs an object).
            sync.expunge_all()
            return
        for obj in self.objects:
            session.expunge(obj)


_ORDER: dict[Table, int] = {}


def _dependency_order(table: Table) -> int:
    if table not in _ORDER:
        _ORDER.update({t: n for n, t in enumerate(table.metadata.sorted_tables)})
    return _ORDER[table]


_INSERTS: dict[Table, Any] = {}
_UPDATES: dict[tuple[Table, tuple[str, ...], tuple[str, ...]], Any] = {}


def _insert(table: Table) -> Any:
    found = _INSERTS.get(table)
    if found is None:
        found = _INSERTS[table] = table.insert()
    return found


def _update(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    found = _UPDATES.get((table, keys, columns))
    if found is None:
        where = [table.c[key] == bindparam(f"fold_{key}") for key in keys]
        found = _UPDATES[(table, keys, columns)] = (
            update(table).where(*where).values({key: bindparam(key) for key in columns if key not in keys})
        )
    return found


def take_pending(session: AsyncSession) -> Folded | None:
    """The session's pending writes as rows, or None when they must be flushed by the ORM instead."""
    sync = session.sync_session
    if sync.deleted or session.in_nested_transaction():
        return None
    folded = Folded()
    for obj in sync.new:
        mapper = _plain_mapper(obj)
        if mapper is None:
            return None
        row = _new_row(obj, mapper)
        if row is None:
            return None
        table = mapper.local_table
        assert isinstance(table, Table)
        rows = folded.inserts.setdefault(table, [])
        if rows and rows[0].keys() != row.keys():
            return None
        rows.append(row)
        folded.objects.append(obj)
    for obj in sync.dirty:
        mapper = _plain_mapper(obj)
        if mapper is None:
            return None
        changed = _changed_row(obj, mapper)
        if changed is None:
            return None
        if len(changed[1]) > len(changed[0]):
            table = mapper.local_table
            assert isinstance(table, Table)
            folded.updates.append((table, changed[0], changed[1]))
        folded.objects.append(obj)
    return folded


def _plain_mapper(obj: object) -> Mapper[Any] | None:
    if type(obj) not in _FOLDABLE:
        return None
    mapper = object_mapper(obj)
    if mapper.relationships or mapper.version_id_col is not None or not isinstance(mapper.local_table, Table):
        return None
    return mapper


_COLUMNS: dict[Mapper[Any], list[tuple[str, Column[Any]]]] = {}


def _columns(mapper: Mapper[Any]) -> list[tuple[str, Column[Any]]]:
    """(attribute key, column) of a mapper, worked out once."""
    found = _COLUMNS.get(mapper)
    if found is None:
        found = _COLUMNS[mapper] = []
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            assert isinstance(column, Column)
            found.append((prop.key, column))
    return found


def _new_row(obj: object, mapper: Mapper[Any]) -> dict[str, Any] | None:
    values = obj.__dict__
    row: dict[str, Any] = {}
    for key, column in _columns(mapper):
        if key in values:
            value = values[key]
        elif column.default is not None and (column.default.is_scalar or column.default.is_callable):
            arg: Any = column.default.arg  # type: ignore[attr-defined]
            value = arg if column.default.is_scalar else arg(None)
        elif column.server_default is None and column.nullable and not column.primary_key:
            value = None
        else:
            return None  # the database would fill it in: the ORM knows how to fetch that
        row[column.key] = value
    return row


def _changed_row(obj: object, mapper: Mapper[Any]) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """(primary-key column names, {those and the changed columns: values}), or None if not plain."""
    state = instance_state(obj)
    if state.key is None:
        return None
    changed = set(state.committed_state)
    keys = tuple(str(column.key) for column in mapper.primary_key)
    row = dict(zip(keys, state.key[1], strict=True))
    for key, column in _columns(mapper):
        if key in changed:
            if column.onupdate is not None or column.primary_key:
                return None
            row[column.key] = obj.__dict__.get(key)
    return keys, row


@dataclass(frozen=True)
class _Shape:
    """What a folded row of these columns needs, worked out once per table and columns: the SQL of its
    CTE (`{n}` for its number) and the bind step of each value that has one."""

    cte: str
    values: tuple[tuple[str, str, Callable[[Any, Any], Any] | None], ...]  # (key, column name, to JSON)

    def json_row(self, row: dict[str, Any], dialect: Any) -> dict[str, Any]:
        """The row keyed by column name, each value as its column's type would bind it (UTC for
        timestamps), as JSON has it."""
        out = {}
        for key, name, to_json in self.values:
            value = row[key]
            out[name] = value if to_json is None or value is None else to_json(value, dialect)
        return out


_SHAPES: dict[tuple[Table, tuple[str, ...], tuple[str, ...] | None], _Shape] = {}


def _shape(table: Table, columns: tuple[str, ...], keys: tuple[str, ...] | None) -> _Shape:
    """An INSERT's shape (`keys` None), or an UPDATE's that finds the row by `keys`."""
    found = _SHAPES.get((table, columns, keys))
    if found is not None:
        return found
    values = tuple((key, table.c[key].name, _to_json(table.c[key].type)) for key in columns)
    names = [name for _, name, _ in values]
    if keys is None:
        listed = ", ".join(f'"{name}"' for name in names)
        cte = (
            f'fold_i{{n}} AS (INSERT INTO "{table.name}" ({listed}) SELECT {listed} '
            f'FROM json_populate_recordset(NULL::"{table.name}", CAST(:fold_i{{n}} AS json)))'
        )
    else:
        primary = [table.c[key].name for key in keys]
        changed = ", ".join(f'"{name}" = r."{name}"' for name in names if name not in primary)
        match = " AND ".join(f't."{name}" = r."{name}"' for name in primary)
        cte = (
            f'fold_u{{n}} AS (UPDATE "{table.name}" AS t SET {changed} '
            f'FROM json_populate_record(NULL::"{table.name}", CAST(:fold_u{{n}} AS json)) AS r WHERE {match})'
        )
    found = _SHAPES[(table, columns, keys)] = _Shape(cte, values)
    return found


def _to_json(kind: TypeEngine[Any]) -> Callable[[Any, Any], Any] | None:
    """A column's value as JSON has it: through the type's own bind step, then dates, timestamps and
    decimals as text."""
    bind: Callable[[Any, Any], Any] | None = kind.process_bind_param if isinstance(kind, TypeDecorator) else None
    try:
        python_type = kind.python_type
    except NotImplementedError:
        return bind
    if python_type in (date, datetime):
        return (lambda v, d: bind(v, d).isoformat()) if bind is not None else (lambda v, _: v.isoformat())
    if python_type is Decimal:
        return lambda v, _: str(v)
    return bind


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot fold a value of type {type(value).__name__}")
