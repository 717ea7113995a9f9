"""Asking the Celery workers to answer a ping with Kombu alone (the status page,
api/v1/status.py): what Celery's `app.control.ping` does with the app's configuration, so an
HTTP worker serving `/api/v1/status` loads no Celery (7.7 MiB: docs/benchmarks.md,
"Footprint"). Celery's control is Kombu's pidbox: a `ping` broadcast on the `celery.pidbox`
fanout exchange, each worker's answer on `reply.celery.pidbox`, collected for `timeout`."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from kombu.pidbox import Mailbox

from worker.publish import producers

if TYPE_CHECKING:
    from registry.config import Settings

# Celery's defaults (celery.app.defaults, `control_*`), which worker/celery_app.py keeps.
CONTROL_EXCHANGE = "celery"
QUEUE_TTL = 300.0
QUEUE_EXPIRES = 10.0

_lock = threading.Lock()
_mailboxes: dict[tuple[int, int], Mailbox] = {}  # (process, producer pool) -> its mailbox


def _mailbox(pool: Any) -> Mailbox:
    """This process's mailbox on `pool`'s broker, as Celery's `app.control` keeps one."""
    key = (os.getpid(), id(pool))
    with _lock:
        mailbox = _mailboxes.get(key)
        if mailbox is None:
            mailbox = _mailboxes[key] = Mailbox(  # type: ignore[no-untyped-call]
                CONTROL_EXCHANGE,
                type="fanout",
                accept=["json"],
                serializer="json",
                producer_pool=pool,
                queue_ttl=QUEUE_TTL,
                reply_queue_ttl=QUEUE_TTL,
                queue_expires=QUEUE_EXPIRES,
                queue_exclusive=True,
                queue_durable=False,
                reply_queue_expires=QUEUE_EXPIRES,
            )
    return mailbox


def ping(settings: Settings, timeout: float) -> list[dict[str, Any]]:
    """The workers' answers, `[{"<name>@<host>": {"ok": "pong"}}, ...]`, as Celery's
    `control.ping(timeout=...)` returns them; raises when the broker is down."""
    pool = producers(settings)
    mailbox = _mailbox(pool)
    with pool.connections.acquire(block=True) as conn:
        replies = mailbox(conn)._broadcast("ping", {}, None, reply=True, timeout=timeout)
    return list(replies or [])
