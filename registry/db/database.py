"""The platform's database: SQLite under data_dir by default, PostgreSQL via `database.url`.

`open_database()` builds one engine per process and URL (never shared across a fork) and
brings the schema to the newest Alembic revision first.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from registry.config import Settings
from registry.db.migration_heads import is_current

log = logging.getLogger("hth.db")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x6874_6801  # any constant shared by every process migrating PostgreSQL


@dataclass(frozen=True)
class Database:
    engine: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def database_url(settings: Settings) -> str:
    if settings.database.url:
        return settings.database.url
    return f"sqlite:///{settings.data_path() / 'hth.db'}"


def create_db_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def insert_on_conflict(table: Any, dialect_name: str) -> Any:
    """INSERT of `table` that takes ON CONFLICT clauses, in this database's dialect. The
    PostgreSQL dialect is imported only where it is the database: its package loads every
    PostgreSQL driver's module (~2 MiB in each process)."""
    dialect = "postgresql" if dialect_name == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table)


_lock = threading.Lock()
_databases: dict[tuple[int, str], Database] = {}


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """This process's Database for the configured URL, migrated to the newest revision."""
    url = database_url(settings)
    key = (os.getpid(), url)
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = Database(create_db_engine(url))
            if migrate and not is_current(database.engine):
                upgrade(database)
            _databases[key] = database
    return database


def upgrade(database: Database) -> None:
    """Apply pending migrations; concurrent processes take turns under a lock."""
    # Imported here: only a process that finds the schema behind pays for Alembic.
    from alembic import command
    from alembic.config import Config

    with _migration_lock(database) as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        logging.getLogger("alembic").setLevel(logging.WARNING)
        command.upgrade(config, "head")
        connection.commit()


@contextmanager
def _migration_lock(database: Database) -> Iterator[Connection]:
    engine = database.engine
    if database.is_sqlite:
        db_path = engine.url.database
        lock_path = f"{db_path}.migrate.lock" if db_path and db_path != ":memory:" else None
        handle = open(lock_path, "a+") if lock_path else None  # noqa: SIM115 - closed below
        try:
            if handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
            with engine.connect() as connection:
                yield connection
        finally:
            if handle:
                handle.close()
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        connection.commit()
        try:
            yield connection
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
