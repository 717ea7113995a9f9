"""The migration scripts' table builders emit exactly the SQL of the plain Alembic operations
they stand for (applied revisions must never change what they emit)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import op
from alembic.migration import MigrationContext
from alembic.operations import Operations

from registry.db.migrations.schema import drop_indexes, drop_tables, table, when


def emitted(build: Callable[[], None], dialect: str) -> str:
    """The SQL `build` emits in Alembic's offline mode."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name=dialect, opts={"as_sql": True, "output_buffer": buffer}
    )
    with Operations.context(context):
        build()
    return buffer.getvalue()


def built() -> None:
    with table("things") as t:
        t.key("id", sa.Integer(), autoincrement=False)
        t.key("name", sa.String(64))
        t.required(sa.Boolean(), "on", "off")
        t.optional(when(), "seen_at", "gone_at")
        t.column(sa.Column("owner", sa.String(36), nullable=False, unique=True))
        t.indexes("on", "seen_at")
        t.index("name", "owner")
        t.index("owner", "gone_at", name="ix_custom")


def written_out() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("on", sa.Boolean(), nullable=False),
        sa.Column("off", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(36), nullable=False, unique=True),
    )
    op.create_index("ix_things_on", "things", ["on"])
    op.create_index("ix_things_seen_at", "things", ["seen_at"])
    op.create_index("ix_things_name_owner", "things", ["name", "owner"])
    op.create_index("ix_custom", "things", ["owner", "gone_at"])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_table_block_emits_what_the_plain_operations_do(dialect: str) -> None:
    sql = emitted(built, dialect)
    assert "CREATE TABLE things" in sql
    assert sql == emitted(written_out, dialect)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_drop_helpers_emit_what_the_plain_operations_do(dialect: str) -> None:
    def helpers() -> None:
        drop_indexes("things", "seen_at", "on")
        drop_tables("things", "others")

    def plain() -> None:
        op.drop_index("ix_things_seen_at", table_name="things")
        op.drop_index("ix_things_on", table_name="things")
        op.drop_table("things")
        op.drop_table("others")

    assert emitted(helpers, dialect) == emitted(plain, dialect)


def test_each_column_of_a_run_has_its_own_type_object() -> None:
    with pytest.raises(RuntimeError), table("things") as t:
        t.required(sa.Boolean(), "on", "off")
        raise RuntimeError("stop before Alembic's op is needed")
    first, second = t.columns
    assert first.type is not second.type


def test_a_block_that_fails_creates_nothing() -> None:
    def failing() -> None:
        with pytest.raises(ValueError), table("things") as t:
            t.key("id", sa.Integer())
            raise ValueError("a mistake in the block")

    assert emitted(failing, "sqlite") == ""
