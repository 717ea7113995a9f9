"""The task database: created and migrated on first use, idempotently."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from registry.config import Settings
from registry.tasks.db import MIGRATIONS, Database, upgrade


def newest_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_schema_is_at_the_newest_revision(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"tasks", "schedules", "locks", "alembic_version"} <= tables
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == newest_revision()


def test_migrating_again_changes_nothing(db: Database, settings: Settings) -> None:
    upgrade(db)
    upgrade(db)
    with db.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
    assert count == 1
