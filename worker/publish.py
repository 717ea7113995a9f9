"""A task's message sent with Kombu alone: the registry's HTTP workers, beat's reaper and the
CLI enqueue without loading Celery (~5 MiB more than Kombu in each: docs/benchmarks.md,
"Footprint"). What goes to the broker is what Celery's `send_task` writes with the app's
configuration (worker/celery_app.py): the task message of Celery's protocol 2 on the `hth`
queue, and the `task-sent` event Flower shows (`task_send_sent_event`).
tests/worker/test_publish.py holds both against Celery's own."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kombu import pools
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from worker.broker import PUBLISH_RETRY_POLICY, QUEUE, broker_url, transport_options

if TYPE_CHECKING:
    from registry.config import Settings

EVENT_EXCHANGE = "celeryev"
# Celery's name for a process that is not a worker, and the reply address of its app.
ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
REPLY_TO = str(uuid.uuid4())
_clock = itertools.count(1)  # the Lamport clock of the events this process sends
_clock_lock = threading.Lock()
_lock = threading.Lock()
# (process, broker URL, transport options) -> its pool of producers. Keyed by what the
# connection is, not by the settings object: an id is reused once its object is gone.
_pools: dict[tuple[int, str, str], Any] = {}


def connection(settings: Settings) -> Connection:
    """A connection to the broker as Celery's producer makes it (connect timeout 2 s)."""
    options = transport_options(settings)
    url = broker_url(settings)
    return Connection(url, transport_options=options, connect_timeout=2)  # type: ignore[no-untyped-call]


def producers(settings: Settings) -> Any:
    """This process's pool of producers on the broker, as Celery's app keeps one: a message
    goes out on a connection already open, its queue declared once per connection."""
    key = (os.getpid(), broker_url(settings), repr(transport_options(settings)))
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = pools.producers[connection(settings)]
    return pool


def task_message(
    name: str, args: list[Any], task_id: str, eta: datetime | None, kwargsrepr: str
) -> tuple[list[Any], dict[str, Any]]:
    """The body and headers of Celery's protocol 2 for a task called with `args`."""
    body = [args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    headers: dict[str, Any] = {
        "lang": "py",
        "task": name,
        "id": task_id,
        "shadow": None,
        "eta": eta.isoformat() if eta else None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": kwargsrepr,
        "origin": ORIGIN,
        "ignore_result": None,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    return body, headers


def sent_event(headers: dict[str, Any]) -> dict[str, Any]:
    """The `task-sent` event Celery sends with the message."""
    with _clock_lock:
        clock = next(_clock)
    return {
        "hostname": ORIGIN,
        "utcoffset": _utcoffset(),
        "pid": os.getpid(),
        "clock": clock,
        "uuid": headers["id"],
        "root_id": headers["root_id"],
        "parent_id": None,
        "name": headers["task"],
        "args": headers["argsrepr"],
        "kwargs": headers["kwargsrepr"],
        "retries": 0,
        "eta": headers["eta"],
        "expires": None,
        "queue": QUEUE,
        "exchange": "",
        "routing_key": QUEUE,
        "timestamp": time.time(),
        "type": "task-sent",
    }


def _utcoffset() -> float:
    """Hours west of UTC, as Celery's events carry it."""
    return (time.altzone if time.localtime().tm_isdst else time.timezone) / 3600


def publish_task(
    settings: Settings,
    name: str,
    args: list[Any],
    task_id: str,
    countdown: float | None = None,
    kwargsrepr: str = "{}",
) -> None:
    """Send the task's message, then its `task-sent` event; raises when the broker is down
    (after Celery's publish retry policy)."""
    eta = datetime.now(UTC) + timedelta(seconds=countdown) if countdown is not None else None
    body, headers = task_message(name, args, task_id, eta, kwargsrepr)
    with producers(settings).acquire(block=True) as producer:
        producer.publish(
            body,
            exchange="",
            routing_key=QUEUE,
            serializer="json",
            headers=headers,
            correlation_id=task_id,
            reply_to=REPLY_TO,
            delivery_mode=2,
            declare=[_task_queue()],
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            kwargsrepr=kwargsrepr,  # Celery passes it on as a message property too
        )
        events = Exchange(EVENT_EXCHANGE, type=_event_exchange_type(producer.connection))  # type: ignore[no-untyped-call]
        producer.publish(
            sent_event(headers),
            exchange=EVENT_EXCHANGE,
            routing_key="task.sent",
            serializer="json",
            headers={"hostname": ORIGIN},
            delivery_mode=1,
            declare=[events],
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )


def _task_queue() -> Queue:
    """Celery's default queue, declared as its producer declares it."""
    exchange = Exchange(QUEUE)  # type: ignore[no-untyped-call]
    return Queue(QUEUE, exchange, routing_key=QUEUE)  # type: ignore[no-untyped-call]


def _event_exchange_type(conn: Connection) -> str:
    """Celery's events exchange is a topic one, fanout on Redis (celery.events.get_exchange)."""
    return "fanout" if conn.transport.driver_type in {"redis", "gcpubsub"} else "topic"


def broker_problem(settings: Settings) -> str | None:
    """None when the broker answers, else what is wrong (for /readyz)."""
    try:
        with connection(settings) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return str(exc) or type(exc).__name__
    return None
