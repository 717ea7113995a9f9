"""Which errors retry, and the backoff between retries."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.exc import OperationalError

from registry.storage import StorageUnavailableError
from worker.retries import backoff, describe, is_transient


@pytest.mark.parametrize(
    "error",
    [
        StorageUnavailableError("s3 timed out"),
        ConnectionResetError("reset by peer"),
        TimeoutError("read timed out"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ],
)
def test_storage_network_and_database_hiccups_are_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [ValueError("bad"), KeyError("x"), PermissionError("denied")])
def test_everything_else_is_permanent(error: Exception) -> None:
    assert not is_transient(error)


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rand = random.Random(7)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        for _ in range(50):
            delay = backoff(attempt, base=2.0, cap=10.0, rand=rand)
            assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_tasks_that_failed_together() -> None:
    rand = random.Random(1)
    assert len({round(backoff(3, 2.0, 60.0, rand), 3) for _ in range(20)}) > 10


def test_errors_are_described_in_one_line() -> None:
    assert describe(ValueError("bad\nvalue")) == "ValueError: bad"
    assert describe(KeyError()) == "KeyError"


def test_redis_connection_errors_are_transient() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    assert is_transient(RedisConnectionError("Connection refused"))
    assert is_transient(RedisTimeoutError("Timeout reading from socket"))
