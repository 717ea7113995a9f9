"""worker/publish.py sends, with Kombu alone, what Celery's `send_task` sends with the app's
configuration: the same task message (protocol 2) on the same queue, and the same `task-sent`
event to a consumer of the events exchange (Flower). Compared on the filesystem broker, the
embedded default, field by field; only what is new for every message differs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from registry.config import Settings, parse_settings
from worker.celery_app import create_celery
from worker.publish import connection, publish_task

# New for every message or process: ids, times, the sender's name and clock.
VARYING_HEADERS = {"id", "root_id", "origin", "eta"}
VARYING_PROPERTIES = {"correlation_id", "reply_to", "delivery_tag"}
VARYING_EVENT = {"uuid", "root_id", "hostname", "pid", "clock", "timestamp", "eta"}


def _messages(folder: Path, queue: str) -> list[dict[str, Any]]:
    found = sorted(folder.glob(f"*.{queue}.msg"))
    messages = [json.loads(path.read_text()) for path in found]
    for path in found:
        path.unlink()
    return messages


def _decoded_body(message: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(message["body"]))


def _without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in keys}


def _bind_event_consumer(settings: Settings) -> None:
    """A queue on Celery's events exchange, as Flower binds one."""
    events = Exchange("celeryev", type="topic")  # type: ignore[no-untyped-call]
    queue = Queue("celeryev.test", events, routing_key="#")  # type: ignore[no-untyped-call]
    with connection(settings) as conn:
        bound: Connection = conn
        queue(bound.default_channel).declare()


def test_the_message_and_event_are_celerys_own(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)})
    folder = tmp_path / "queue" / "messages"
    _bind_event_consumer(settings)
    args, kwargsrepr = ["01-task"], '{"grace_period": "0s"}'

    create_celery(settings).send_task("hth.gc", args=args, task_id="c1", kwargsrepr=kwargsrepr)
    (celerys,), (celerys_event,) = _messages(folder, "hth"), _messages(folder, "celeryev.test")
    publish_task(settings, "hth.gc", args, "k1", kwargsrepr=kwargsrepr)
    (ours,), (our_event,) = _messages(folder, "hth"), _messages(folder, "celeryev.test")

    assert _decoded_body(ours) == _decoded_body(celerys)
    assert _without(ours, {"body", "headers", "properties"}) == _without(
        celerys, {"body", "headers", "properties"}
    )
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == "k1"
    assert _without(ours["headers"], VARYING_HEADERS) == _without(
        celerys["headers"], VARYING_HEADERS
    )
    assert ours["properties"]["correlation_id"] == "k1"
    assert _without(ours["properties"], VARYING_PROPERTIES) == _without(
        celerys["properties"], VARYING_PROPERTIES
    )
    assert _decoded_body(our_event)["uuid"] == "k1"
    assert _without(_decoded_body(our_event), VARYING_EVENT) == _without(
        _decoded_body(celerys_event), VARYING_EVENT
    )
    assert _without(our_event["headers"], {"hostname"}) == _without(
        celerys_event["headers"], {"hostname"}
    )
    assert _without(our_event["properties"], VARYING_PROPERTIES) == _without(
        celerys_event["properties"], VARYING_PROPERTIES
    )


def test_a_countdown_is_an_eta_as_celery_writes_it(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)})
    folder = tmp_path / "queue" / "messages"
    create_celery(settings).send_task("hth.gc", args=["t"], task_id="c2", countdown=30)
    publish_task(settings, "hth.gc", ["t"], "k2", countdown=30)
    celerys, ours = sorted(_messages(folder, "hth"), key=lambda m: m["headers"]["id"])
    assert len(ours["headers"]["eta"]) == len(celerys["headers"]["eta"])
    assert ours["headers"]["eta"][:16] == celerys["headers"]["eta"][:16]  # to the minute
