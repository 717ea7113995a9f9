"""The failed-login limiter: per address and name, per address, sliding window."""

from __future__ import annotations

from registry.auth.ratelimit import ADDRESS_FACTOR, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_reached_then_lifted_when_the_window_slides() -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1", "alice") is None
        limiter.failed("10.0.0.1", "alice")
        clock.now += 1

    assert limiter.retry_after("10.0.0.1", "alice") == 57  # the first failure + 60 s
    assert limiter.retry_after("10.0.0.2", "alice") is None  # another address
    assert limiter.retry_after("10.0.0.1", "bob") is None  # another name
    clock.now += 57
    assert limiter.retry_after("10.0.0.1", "alice") is None


def test_success_clears_the_name_but_not_the_address_count() -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    limiter.failed("a", "alice")
    limiter.succeeded("a", "alice")
    limiter.failed("a", "alice")
    assert limiter.retry_after("a", "alice") is None


def test_spraying_many_names_from_one_address_is_limited() -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    for index in range(2 * ADDRESS_FACTOR):
        limiter.failed("a", f"user{index}")
    assert limiter.retry_after("a", "someone-new") is not None
