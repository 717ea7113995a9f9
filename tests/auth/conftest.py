"""One registry with auth on, shared by the auth tests of a session; a migrated database
(SQLite, PostgreSQL) for the tests of the auth core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.config import parse_settings
from registry.db.database import Database, open_database
from testbed.task_platform import postgres_database
from tests.support.auth import AuthRegistry


@pytest.fixture(scope="package")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    registry = AuthRegistry.start(tmp_path_factory.mktemp("auth-registry"))
    yield registry
    registry.stop()


@pytest.fixture(scope="package")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    raw: dict[str, object] = {"data_dir": str(tmp_path / "var")}
    if request.param == "postgresql":
        raw["database"] = {"url": request.getfixturevalue("postgres_url")}
    database = open_database(parse_settings(raw))
    yield database
    if not database.is_sqlite:  # the PostgreSQL database is shared: empty it for the next test
        with database.engine.begin() as connection:
            connection.execute(
                text("TRUNCATE auth_login_failures, auth_tokens, auth_users, auth_permissions")
            )
