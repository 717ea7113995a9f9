"""registry.maintenance.throttle: the byte-rate limit the scrub reads under."""

from __future__ import annotations

import threading
import time

import pytest

from registry.maintenance.throttle import MB, RateLimit


class FakeTime:
    """A clock that only moves when the limit sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_an_idle_limit_lets_a_short_burst_through_then_paces_at_the_rate() -> None:
    fake = FakeTime()
    limit = RateLimit(1000, burst=0.5, clock=fake.clock, sleep=fake.sleep)

    limit.take(500)  # half a second's worth: within the burst
    assert fake.slept == []
    for _ in range(4):
        limit.take(500)

    assert fake.now - 100.0 == pytest.approx(2.0)  # 2500 bytes at 1000/s, less the burst


def test_threads_share_one_limit() -> None:
    limit = RateLimit(4 * MB, burst=0.0)
    threads = [threading.Thread(target=lambda: limit.take(MB // 2)) for _ in range(4)]

    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - begin >= 0.45  # 2 MB at 4 MB/s, whoever asked


def test_megabytes_per_second_become_bytes_and_none_means_no_limit() -> None:
    limit = RateLimit.of(2.5)
    assert limit is not None and limit.rate == 2_500_000
    assert RateLimit.of(None) is None
    assert limit.chunk_size(1024 * 1024) == 312_500  # an eighth of a second's worth
    assert RateLimit(10 * MB).chunk_size(1024 * 1024) == 1024 * 1024


def test_a_rate_of_zero_or_less_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)
