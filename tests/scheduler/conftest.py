"""Fixtures for beat: an in-process task database and broker namespace, and a platform with
two beats (per-second cron allowed) next to a registry/API and a worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.config import Settings, parse_settings
from registry.db.database import Database, open_database
from testbed.task_platform import RedisNamespace, TaskPlatform


@pytest.fixture()
def namespace() -> Iterator[RedisNamespace]:
    space = RedisNamespace()
    yield space
    space.cleanup()


@pytest.fixture()
def settings(tmp_path: Path, namespace: RedisNamespace) -> Settings:
    return parse_settings(
        {
            "data_dir": str(tmp_path / "var"),
            "queue": {
                "broker_url": namespace.url,
                "key_prefix": namespace.prefix,
                "dead_after": "30s",
                "resend_after": "30s",
                "max_retries": 1,
            },
            "scheduler": {"cron_seconds": True},
        }
    )


@pytest.fixture()
def db(settings: Settings) -> Database:
    return open_database(settings)


@pytest.fixture(scope="module")
def beats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    space = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("beats"),
        config={"queue": {"broker_url": space.url, "key_prefix": space.prefix}},
    )
    try:
        platform.start("registry", "worker", "beat", "beat")
        yield platform
    finally:
        platform.stop()
        space.cleanup()
