"""Which errors are worth a retry, and how long to wait before it."""

from __future__ import annotations

import random
import sys

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError as DatabaseError

from registry.storage import StorageUnavailableError

# Storage timeouts, connection resets, broker and database hiccups. Anything else
# (bad input, missing data, bugs) fails at once: retrying would not change the outcome.
TRANSIENT: tuple[type[BaseException], ...] = (
    StorageUnavailableError,
    ConnectionError,
    TimeoutError,
    BrokerError,
    DatabaseError,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    # Redis's connection errors too. Importing redis costs ~25 MiB (it pulls in
    # `cryptography`), and a process that never loaded it cannot have raised them.
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is None:
        return False
    return isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError)


def backoff(attempt: int, base: float, cap: float, rand: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): exponential, capped, with jitter
    (half fixed, half random) so that tasks failing together do not retry together."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    uniform = rand.uniform if rand is not None else random.uniform
    return ceiling / 2 + uniform(0, ceiling / 2)


def describe(exc: BaseException) -> str:
    """One readable line: the error's type and message."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
