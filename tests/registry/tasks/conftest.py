"""A migrated task database per test: SQLite in a temporary folder, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.config import Settings, parse_settings
from registry.db.database import Database, open_database
from testbed.task_platform import postgres_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    raw: dict[str, object] = {"data_dir": str(tmp_path / "var")}
    if request.param == "postgresql":
        raw["database"] = {"url": request.getfixturevalue("postgres_url")}
    return parse_settings(raw)


@pytest.fixture()
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    if not database.is_sqlite:  # the PostgreSQL database is shared: empty it for the next test
        with database.engine.begin() as connection:
            connection.execute(text("TRUNCATE tasks, schedules, locks"))
