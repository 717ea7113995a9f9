"""Table rows on SQLAlchemy Core: the few things the platform took from SQLModel and the ORM
(~10 MiB in every process that imports them: docs/benchmarks.md, "Footprint"), kept in the
same shape so that the code reading and writing rows reads as before.

- `class TaskRow(Row, table=True)` with `__tablename__` and annotated fields (`Field(...)`
  for keys, lengths, defaults, a column of its own) builds a Core `Table` on `metadata`
  (what Alembic compares); on the class, `TaskRow.kind` is that column (`col()` says so to
  the type checker), on a row its value.
- `Session(engine)` (registry/db/session.py) reads and writes them: `exec(select(TaskRow))`
  gives `TaskRow` objects, a query of one column its values, of several tuples.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar, overload

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
)
from sqlalchemy import select as _select
from sqlalchemy.sql import ColumnElement

metadata = MetaData()
_T = TypeVar("_T")
_R = TypeVar("_R", bound="Row")
_MISSING: Any = object()
ROW_CLASSES: dict[Table, type[Row]] = {}
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
        if column.table is not None:  # a field set's column, taken by an earlier table
            column = column._copy()
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
    declares its table from the annotated fields, its own and those of any field set (a
    subclass without `table=True`) it also derives from."""

    __table__: ClassVar[Table]
    __defaults__: ClassVar[dict[str, FieldInfo]]

    def __init_subclass__(cls, table: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not table:
            return
        hints = typing.get_type_hints(cls)
        columns, defaults = [], {}
        for name, value in _fields(cls).items():
            info = value if isinstance(value, FieldInfo) else FieldInfo(default=value)
            columns.append(_column(name, hints[name], info))
            defaults[name] = info
        extra = cls.__dict__.get("__table_args__", ())
        cls.__table__ = Table(cls.__dict__["__tablename__"], metadata, *columns, *extra)
        cls.__defaults__ = defaults
        for column in columns:
            setattr(cls, column.name, _ColumnAttribute(column))
        ROW_CLASSES[cls.__table__] = cls

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


def _fields(cls: type[Row]) -> dict[str, Any]:
    """A table's annotated fields: its own, then those of the field sets it derives from
    (Row subclasses without a table of their own)."""
    found: dict[str, Any] = {}
    for owner in cls.__mro__:
        if owner is Row or not issubclass(owner, Row) or "__table__" in owner.__dict__:
            continue
        for name in owner.__dict__.get("__annotations__", {}):
            found.setdefault(name, owner.__dict__.get(name, _MISSING))
    return found


def _same(row: Row, other: Row) -> bool:
    return row.model_dump() == other.model_dump()


__all__ = ["Field", "Row", "col", "metadata", "select"]
