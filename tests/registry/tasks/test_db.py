"""The task database: created and migrated on first use, idempotently."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from registry.config import Settings
from registry.db.database import MIGRATIONS, Database, upgrade
from registry.db.migration_heads import head_revisions, is_current


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


def test_the_heads_read_from_the_files_are_alembics() -> None:
    assert head_revisions() == frozenset({newest_revision()})


def test_a_database_is_current_only_at_the_newest_revision(db: Database) -> None:
    assert is_current(db.engine)  # the fixture migrated it
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not is_current(db.engine)
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    assert not is_current(db.engine)
