"""Table rows on SQLAlchemy Core: the few things the platform took from SQLModel and the ORM
(~10 MiB in every process that imports them: docs/benchmarks.md, "Footprint"), kept in the
same shape so that the code reading and writing rows reads as before.

- `class TaskRow(Row, table=True)` with `__tablename__` and annotated fields (`Field(...)`
  for keys, lengths, defaults, a column of its own) builds a Core `Table` on `metadata`
  (what Alembic compares); on the class, `TaskRow.kind` is that column (`col()` says so to
  the type checker), on a row its value.
- `Session(engine)` does what the code asked of the ORM's session: `get`, `add`, `delete`,
  `exec(select(...))` (rows of a table as `Row` objects, one column as its values, else
  tuples), `execute`, `refresh`, `commit`, `rollback`. Rows it loaded or added are watched:
  what changed since a row was read or written is written (by primary key) before the next
  statement and at commit, also for a row read in an earlier session and `add`ed again.
  Values stay readable after the session ends (as with `expire_on_commit=False`).
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, TypeVar, overload

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    delete,
    insert,
    update,
)
from sqlalchemy import select as _select
from sqlalchemy.sql import ColumnElement, Executable

metadata = MetaData()
_T = TypeVar("_T")
_R = TypeVar("_R", bound="Row")
_MISSING: Any = object()
_ROW_CLASSES: dict[Table, type[Row]] = {}
_TYPES: dict[type, Callable[[int | None], Any]] = {
    str: lambda n: String(n) if n else String(),
    int: lambda _: Integer(),
    bool: lambda _: Boolean(),
    float: lambda _: Float(),
}


class FieldInfo:
    """What `Field(...)` says of one column."""

    def __init__(self, **options: Any) -> None:
        self.default = options.pop("default", _MISSING)
        self.default_factory: Callable[[], Any] | None = options.pop("default_factory", None)
        self.sa_column: Column[Any] | None = options.pop("sa_column", None)
        self.options = options  # primary_key, max_length, index, unique


def Field(**options: Any) -> Any:  # noqa: N802 - reads as the SQLModel it replaces
    return FieldInfo(**options)


@overload
def select(entity: type[_R], /) -> Select[_R]: ...
@overload
def select(*columns: Any) -> Select[Any]: ...
def select(*entities: Any) -> Select[Any]:
    """A query of rows (`select(TaskRow)`) or of columns (`select(TaskRow.id)`)."""
    return _select(*entities)


def col(attribute: Any) -> ColumnElement[Any]:
    """The column behind a field named on its class (`col(TaskRow.kind)`)."""
    if not isinstance(attribute, ColumnElement):
        raise TypeError(f"not a column: {attribute!r}")
    return attribute


class _ColumnAttribute:
    """On the class, the column; on a row, its value (kept in the row's __dict__)."""

    def __init__(self, column: Column[Any]) -> None:
        self.column = column

    def __get__(self, row: object, owner: type) -> Any:
        return self.column


class _RowType(type):
    def __clause_element__(cls) -> Table:  # select(TaskRow), update(TaskRow), ...
        return cls.__dict__["__table__"]  # type: ignore[no-any-return]


def _column(name: str, hint: Any, info: FieldInfo) -> Column[Any]:
    if info.sa_column is not None:
        column = info.sa_column
        column.name = column.key = name
        return column
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    options = dict(info.options)
    sql_type = _TYPES[base](options.pop("max_length", None))
    key = bool(options.get("primary_key"))
    return Column(name, sql_type, nullable=optional and not key, **options)


class Row(metaclass=_RowType):
    """A row of one table: keyword arguments in, attributes out; `table=True` on a subclass
    declares its table from the annotated fields."""

    __table__: ClassVar[Table]
    __defaults__: ClassVar[dict[str, FieldInfo]]

    def __init_subclass__(cls, table: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not table:
            return
        hints = typing.get_type_hints(cls)
        columns, defaults = [], {}
        for name in cls.__annotations__:
            value = cls.__dict__.get(name, _MISSING)
            info = value if isinstance(value, FieldInfo) else FieldInfo(default=value)
            columns.append(_column(name, hints[name], info))
            defaults[name] = info
        extra = cls.__dict__.get("__table_args__", ())
        cls.__table__ = Table(cls.__dict__["__tablename__"], metadata, *columns, *extra)
        cls.__defaults__ = defaults
        for column in columns:
            setattr(cls, column.name, _ColumnAttribute(column))
        _ROW_CLASSES[cls.__table__] = cls

    def __init__(self, **values: Any) -> None:
        for name, info in self.__defaults__.items():
            if name in values:
                value = values.pop(name)
            elif info.default_factory is not None:
                value = info.default_factory()
            else:
                value = None if info.default is _MISSING else info.default
            self.__dict__[name] = value
        if values:
            raise TypeError(f"{type(self).__name__}: no field {sorted(values)}")

    def model_dump(
        self, *, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, Any]:
        names = [n for n in self.__defaults__ if include is None or n in set(include)]
        return {n: self.__dict__[n] for n in names if n not in set(exclude or ())}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and type(other) is type(self) and _same(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.model_dump().items())
        return f"{type(self).__name__}({fields})"


def _same(row: Row, other: Row) -> bool:
    return row.model_dump() == other.model_dump()


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
        cls = _ROW_CLASSES.get(table) if isinstance(table, Table) else None
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


__all__ = ["Field", "Row", "Session", "col", "metadata", "select"]
