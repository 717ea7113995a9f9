"""Which task messages still wait in the broker's queue, not yet taken by any worker. The
reaper re-sends a task whose message left the queue but that no worker started; one still
waiting is only slow, and re-sending it would just push it to the back of the queue."""

from __future__ import annotations

import json

import redis
from kombu.transport.redis import PRIORITY_STEPS
from kombu.transport.redis import Channel as RedisChannel

from registry.config import Settings
from worker import fs_transport
from worker.broker import QUEUE, queue_folder


class BrokerUnreadable(Exception):
    """The broker's queue cannot be listed now (the broker is down, or not Redis)."""


def waiting_ids(settings: Settings) -> set[str]:
    """The message ids in our queue; BrokerUnreadable when that cannot be told."""
    url = settings.queue.broker_url
    try:
        if url is None:
            return fs_transport.queued_ids(queue_folder(settings) / "messages", QUEUE)
        return _redis_waiting(url, settings.queue.key_prefix)
    except (OSError, ValueError, redis.RedisError) as exc:
        raise BrokerUnreadable(f"{type(exc).__name__}: {exc}") from None


def _redis_waiting(url: str, prefix: str) -> set[str]:
    """Kombu keeps a queue as one Redis list per priority step; a message taken by a worker
    moves to the `unacked` hash until acknowledged, so it is in none of these lists."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    keys = [prefix + QUEUE] + [f"{prefix}{QUEUE}{RedisChannel.sep}{p}" for p in PRIORITY_STEPS[1:]]
    try:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lrange(key, 0, -1)
            lists = pipe.execute()
    finally:
        client.close()
    return {_message_id(raw) for entries in lists for raw in entries}


def _message_id(raw: bytes) -> str:
    try:
        message = json.loads(raw)
        found = message["headers"]["id"]
    except (ValueError, KeyError, TypeError):
        return ""  # not a task message of ours
    return found if isinstance(found, str) else ""
