"""What the migration scripts build their tables with: `with table(name) as t:` declares the
key, the runs of required or optional columns of one type and the indexes, so that each
script reads as its schema. Applied revisions must keep emitting the same SQL: change nothing
here that they use, add to it instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import sqlalchemy as sa
from alembic import op


def when() -> sa.DateTime:
    """A moment, with its time zone (TIMESTAMP WITH TIME ZONE on PostgreSQL)."""
    return sa.DateTime(timezone=True)


class Table:
    """The columns and indexes of one new table, in the order they are declared."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: list[sa.Column[Any]] = []
        self.indexed: list[tuple[str, list[str]]] = []

    def key(
        self,
        name: str,
        type_: sa.types.TypeEngine[Any],
        *,
        autoincrement: bool | Literal["auto"] = "auto",
    ) -> None:
        """A primary-key column; several make a composite key."""
        self.column(sa.Column(name, type_, primary_key=True, autoincrement=autoincrement))

    def required(self, type_: sa.types.TypeEngine[Any], *names: str) -> None:
        """NOT NULL columns of one type (each its own copy of it: Boolean and Enum are schema
        types, which belong to one column)."""
        for name in names:
            self.column(sa.Column(name, type_.copy(), nullable=False))

    def optional(self, type_: sa.types.TypeEngine[Any], *names: str) -> None:
        """Nullable columns of one type."""
        for name in names:
            self.column(sa.Column(name, type_.copy(), nullable=True))

    def column(self, column: sa.Column[Any]) -> None:
        """A column the builders above do not make (unique, or indexed as it is created)."""
        self.columns.append(column)

    def index(self, *columns: str, name: str | None = None) -> None:
        """One index over these columns, named `ix_<table>_<columns>` unless named here."""
        self.indexed.append((name or "_".join(("ix", self.name, *columns)), list(columns)))

    def indexes(self, *columns: str) -> None:
        """One index on each of these columns."""
        for column in columns:
            self.index(column)


@contextmanager
def table(name: str) -> Iterator[Table]:
    """Declare a new table in the block; when it ends, create the table, then its indexes."""
    new = Table(name)
    yield new
    op.create_table(name, *new.columns)
    for index_name, columns in new.indexed:
        op.create_index(index_name, name, columns)


def drop_indexes(table_name: str, *columns: str) -> None:
    """Drop the one-column indexes `Table.indexes` made, in the order named."""
    for column in columns:
        op.drop_index(f"ix_{table_name}_{column}", table_name=table_name)


def drop_tables(*names: str) -> None:
    """Drop these tables, in the order named."""
    for name in names:
        op.drop_table(name)
