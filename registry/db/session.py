"""The session of registry/db/rows.py: what the code asked of the ORM's session (`get`,
`add`, `delete`, `exec(select(...))`, `execute`, `refresh`, `commit`, `rollback`) on one Core
connection. Rows it loaded or was given are watched: what changed since a row was read or
written is written (by primary key) before the next statement and at commit, also for a row
read in an earlier session and `add`ed again. Values stay readable after the session ends
(as with the ORM's `expire_on_commit=False`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import Connection, Engine, Select, Table, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement, Executable

from registry.db.database import Database
from registry.db.rows import ROW_CLASSES, Row, select

_T = TypeVar("_T")
_R = TypeVar("_R", bound=Row)


_SEEN = "_seen_in_database"  # a row's column values as last read or written


def _values(row: Row) -> dict[str, Any]:
    return {name: row.__dict__[name] for name in row.__defaults__}


def _seen(row: Row) -> None:
    row.__dict__[_SEEN] = copy.deepcopy(_values(row))


def _key(row: Row) -> tuple[Table, tuple[Any, ...]]:
    table = row.__table__
    return table, tuple(row.__dict__[c.name] for c in table.primary_key.columns)


def _by_key(row: Row) -> list[ColumnElement[bool]]:
    return [c == row.__dict__[c.name] for c in row.__table__.primary_key.columns]


class Results(Generic[_T]):
    """What `Session.exec` returns, read at once."""

    def __init__(self, items: list[_T]) -> None:
        self._items = items

    def all(self) -> list[_T]:
        return list(self._items)

    def first(self) -> _T | None:
        return self._items[0] if self._items else None

    def one(self) -> _T:
        if len(self._items) != 1:
            raise LookupError(f"expected one row, got {len(self._items)}")
        return self._items[0]

    def one_or_none(self) -> _T | None:
        return self.one() if self._items else None

    def __iter__(self) -> Iterator[_T]:
        return iter(self._items)


class Session:
    """One connection, taken at first use, with the rows it loaded or was given."""

    def __init__(self, engine: Engine, *, expire_on_commit: bool = False) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._rows: dict[tuple[Table, tuple[Any, ...]], Row] = {}
        self._new: list[Row] = []
        self._deleted: list[Row] = []

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # what was not committed is rolled back
            self._connection = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _watch(self, row: Row) -> Row:
        """The row this session already holds under that key, else this one, watched."""
        return self._rows.setdefault(_key(row), row)

    def _load(self, cls: type[_R], mapping: Any) -> _R:
        row = cls.__new__(cls)
        row.__dict__.update({name: mapping[name] for name in cls.__defaults__})
        _seen(row)
        return self._watch(row)  # type: ignore[return-value]

    def add(self, row: Row) -> None:
        if _SEEN in row.__dict__:
            self._watch(row)
        elif not any(row is new for new in self._new):
            self._new.append(row)

    def add_all(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(row)

    def delete(self, row: Row) -> None:
        self._deleted.append(row)

    def flush(self) -> None:
        """Write the new rows, the changes, then the deletions."""
        new, self._new = self._new, []
        for row in new:
            table = row.__table__
            values = _values(row)
            if any(values[c.name] is None for c in table.primary_key.columns):
                values = {k: v for k, v in values.items() if v is not None}
            result = self.connection.execute(insert(table).values(values))
            inserted = result.inserted_primary_key or ()
            for column, value in zip(table.primary_key.columns, inserted, strict=False):
                row.__dict__[column.name] = value
            _seen(row)
            self._watch(row)
        for row in self._rows.values():
            seen = row.__dict__[_SEEN]
            changed = {k: v for k, v in _values(row).items() if seen[k] != v}
            if changed:
                query = update(row.__table__).where(*_by_key(row)).values(changed)
                self.connection.execute(query)
                _seen(row)
        deleted, self._deleted = self._deleted, []
        for row in deleted:
            self.connection.execute(delete(row.__table__).where(*_by_key(row)))
            self._rows.pop(_key(row), None)
            row.__dict__.pop(_SEEN, None)

    def get(self, cls: type[_R], key: Any) -> _R | None:
        self.flush()
        keys = key if isinstance(key, tuple) else (key,)
        held = self._rows.get((cls.__table__, keys))
        if held is not None:
            return held  # type: ignore[return-value]
        where = [c == v for c, v in zip(cls.__table__.primary_key.columns, keys, strict=True)]
        found = self.connection.execute(select(cls.__table__).where(*where)).mappings().first()
        return None if found is None else self._load(cls, found)

    def require(self, cls: type[_R], key: Any, missing: Exception) -> _R:
        """`get`, raising `missing` (the caller's not-found error) when there is no row."""
        row = self.get(cls, key)
        if row is None:
            raise missing
        return row

    def refresh(self, row: Row) -> None:
        self.flush()
        query = select(row.__table__).where(*_by_key(row))
        found = self.connection.execute(query).mappings().one()
        row.__dict__.update({name: found[name] for name in row.__defaults__})
        _seen(row)
        self._watch(row)

    @overload
    def exec(self, statement: Select[_T]) -> Results[_T]: ...
    @overload
    def exec(self, statement: Executable) -> Results[Any]: ...
    def exec(self, statement: Executable) -> Results[Any]:
        self.flush()
        result = self.connection.execute(statement)
        if not isinstance(statement, Select):
            return Results([])
        columns = list(statement.selected_columns)
        table = getattr(columns[0], "table", None)
        cls = ROW_CLASSES.get(table) if isinstance(table, Table) else None
        if cls is not None and [c.name for c in columns] == list(cls.__defaults__):
            if all(getattr(c, "table", None) is table for c in columns):
                return Results([self._load(cls, m) for m in result.mappings()])
        if len(columns) == 1:
            return Results(list(result.scalars()))
        return Results(list(result))

    def execute(self, statement: Executable, parameters: Any = None) -> Any:
        self.flush()
        return self.connection.execute(statement, parameters)

    def commit(self) -> None:
        self.flush()
        self.connection.commit()

    def rollback(self) -> None:
        self._new, self._deleted = [], []
        if self._connection is not None:
            self._connection.rollback()
        self._rows.clear()


def find_row(db: Database, cls: type[_R], key: Any) -> _R | None:
    """The row of `cls` under primary key `key`, read in a session of its own."""
    with Session(db.engine) as session:
        return session.get(cls, key)


def get_row(db: Database, cls: type[_R], key: Any, missing: Exception) -> _R:
    """`find_row`, raising `missing` when there is no such row."""
    with Session(db.engine) as session:
        return session.require(cls, key, missing)


def insert_row(db: Database, row: _R, taken: Exception) -> _R:
    """Write `row`, a new one, and read it back; `taken` is raised instead when its key (or
    a unique value) is already in the table."""
    with Session(db.engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            raise taken from None
        session.refresh(row)
    return row
