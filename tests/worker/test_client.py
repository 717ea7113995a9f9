"""The one enqueue path against a real Redis: record first, then the message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from registry.config import Settings, parse_settings
from registry.db.database import Database, open_database
from registry.tasks.errors import InvalidParams, UnknownTaskKind
from registry.tasks.records import list_tasks
from registry.tasks.states import State, Trigger
from testbed.task_platform import RedisNamespace
from worker.client import broker_problem, enqueue


@pytest.fixture()
def namespace() -> Iterator[RedisNamespace]:
    space = RedisNamespace()
    yield space
    space.cleanup()


@pytest.fixture()
def settings(tmp_path: Path, namespace: RedisNamespace) -> Settings:
    queue = {"broker_url": namespace.url, "key_prefix": namespace.prefix}
    return parse_settings({"data_dir": str(tmp_path / "var"), "queue": queue})


@pytest.fixture()
def db(settings: Settings) -> Database:
    return open_database(settings)


def messages(namespace: RedisNamespace) -> list[dict[str, object]]:
    client = redis.Redis.from_url(namespace.url)
    try:
        return [json.loads(raw) for raw in client.lrange(f"{namespace.prefix}hth", 0, -1)]
    finally:
        client.close()


def test_enqueue_records_the_task_then_sends_its_message(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    task = enqueue(db, settings, "purge_uploads", {"dry_run": True}, Trigger.CLI)
    assert (task.state, task.trigger, task.max_attempts) == (State.QUEUED, "cli", 4)
    assert task.sent_at is not None
    [message] = messages(namespace)
    headers = message["headers"]
    assert isinstance(headers, dict)
    assert headers["id"] == task.celery_id
    assert headers["task"] == "hth.purge_uploads"
    assert headers["argsrepr"] == repr([task.id])
    assert headers["kwargsrepr"] == '{"dry_run": true}'


def test_unknown_kinds_and_bad_params_are_refused_before_recording(
    db: Database, settings: Settings, namespace: RedisNamespace
) -> None:
    with pytest.raises(UnknownTaskKind):
        enqueue(db, settings, "defrag", {}, Trigger.API)
    with pytest.raises(InvalidParams):
        enqueue(db, settings, "noop", {"steps": "many"}, Trigger.API)
    assert list_tasks(db)[0] == [] and messages(namespace) == []


def test_broker_health_is_reported(settings: Settings) -> None:
    assert broker_problem(settings) is None
    down = settings.model_copy(deep=True)
    down.queue.broker_url = "redis://127.0.0.1:1/0"
    problem = broker_problem(down)
    assert problem is not None and "Connection refused" in problem


def test_the_embedded_broker_needs_no_server(tmp_path: Path) -> None:
    embedded = parse_settings({"data_dir": str(tmp_path / "var")})
    assert broker_problem(embedded) is None
    task = enqueue(open_database(embedded), embedded, "noop", {}, Trigger.API)
    assert task.sent_at is not None
    assert list((tmp_path / "var" / "queue" / "messages").iterdir())
