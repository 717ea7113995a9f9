"""worker/control.py asks the Celery workers what Celery's `app.control.ping` asks, with
Kombu alone: a real Celery worker answers both alike, on the filesystem broker (the embedded
default) and on Redis; a broker that is down raises, as Celery's does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.config import parse_settings
from testbed.task_platform import RedisNamespace, TaskPlatform
from worker.celery_app import create_celery
from worker.control import ping


@pytest.fixture(params=["filesystem", "redis"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace() if request.param == "redis" else None
    queue = {"broker_url": namespace.url, "key_prefix": namespace.prefix} if namespace else {}
    platform = TaskPlatform(tmp_path, config={"queue": queue})
    try:
        platform.start("worker")
        yield platform
    finally:
        platform.stop()
        if namespace is not None:
            namespace.cleanup()


@pytest.mark.integration
def test_a_worker_answers_our_ping_as_it_answers_celerys(platform: TaskPlatform) -> None:
    settings = parse_settings(json.loads(platform.config_file.read_text()))

    ours = ping(settings, 2.0)
    celerys = create_celery(settings).control.ping(timeout=2.0)

    assert len(ours) == 1
    assert ours == celerys  # [{"<name>@<host>": {"ok": "pong"}}]
    assert ping(settings, 2.0) == ours  # again, on the mailbox and connection kept


def test_a_broker_that_is_down_raises(tmp_path: Path) -> None:
    settings = parse_settings(
        {"data_dir": str(tmp_path), "queue": {"broker_url": "redis://127.0.0.1:1/0"}}
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever Kombu raises, as in Celery
        ping(settings, 0.5)
