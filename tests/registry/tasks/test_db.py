"""The task database: created and migrated on first use, idempotently."""

from __future__ import annotations

from sqlalchemy import inspect, text

from registry.config import Settings
from registry.tasks.db import Database, upgrade


def test_the_schema_is_at_the_newest_revision(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"tasks", "schedules", "locks", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0001"


def test_migrating_again_changes_nothing(db: Database, settings: Settings) -> None:
    upgrade(db)
    upgrade(db)
    with db.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
    assert count == 1
