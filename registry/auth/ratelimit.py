"""Failed-login limiting: too many failures from one address (or for one name from it)
within a window answer 429 with Retry-After, correct credentials included."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# One address may fail this many times more than one (address, name) pair: spraying many
# names from one address is limited too.
ADDRESS_FACTOR = 4


class LoginLimiter:
    """In-process sliding windows of failure times (each API process keeps its own)."""

    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, address: str, name: str) -> list[tuple[str, int]]:
        return [
            (f"addr:{address}", self.attempts * ADDRESS_FACTOR),
            (f"name:{address}:{name}", self.attempts),
        ]

    def retry_after(self, address: str, name: str) -> int | None:
        """Seconds to wait before another attempt is heard, or None when one may try now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(address, name):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, address: str, name: str) -> None:
        now = self._clock()
        with self._lock:
            for key, limit in self._keys(address, name):
                times = self._failures.setdefault(key, deque(maxlen=limit))
                times.append(now)
            if len(self._failures) > 100_000:  # bounded memory under a flood of addresses
                self._prune(now)

    def succeeded(self, address: str, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{address}:{name}", None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window]:
            del self._failures[key]
