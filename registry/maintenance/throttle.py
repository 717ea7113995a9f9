"""A byte-rate limit shared by the threads of one task (the scrub's `rate_limit`, in MB/s).

Each caller reserves the time its bytes take at the rate and sleeps until then, outside the
lock; an idle limit lets a short burst (`burst` seconds' worth) through at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MB = 1_000_000  # rate limits are decimal megabytes per second, as disks and links are rated


class RateLimit:
    """At most `bytes_per_second` on average over every thread calling `take`."""

    def __init__(
        self,
        bytes_per_second: float,
        burst: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if bytes_per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = bytes_per_second
        self._burst, self._clock, self._sleep = burst, clock, sleep
        self._lock = threading.Lock()
        self._free_at = float("-inf")  # when the bytes reserved so far are paid for

    @classmethod
    def of(cls, megabytes_per_second: float | None) -> RateLimit | None:
        """The limit for a `rate_limit` parameter in MB/s; None (no limit) for None."""
        return None if megabytes_per_second is None else cls(megabytes_per_second * MB)

    def chunk_size(self, largest: int) -> int:
        """A read size that keeps each sleep short (about an eighth of a second)."""
        return max(64 * 1024, min(largest, int(self.rate / 8)))

    def take(self, count: int) -> None:
        """Account for `count` bytes, sleeping as long as the rate requires."""
        with self._lock:
            now = self._clock()
            start = max(self._free_at, now - self._burst)
            self._free_at = start + count / self.rate
            wait = self._free_at - now
        if wait > 0:
            self._sleep(wait)
