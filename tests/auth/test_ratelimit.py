"""The failed-login rules on a real database (SQLite and PostgreSQL), with a settable clock:
a name is refused to the addresses that failed it, an address that sprays names is refused,
windows slide, and old failures are pruned."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.auth.models import LoginFailureRow
from registry.auth.ratelimit import ADDRESS_FACTOR, LoginLimiter, LoginLocked, counted_address
from registry.db.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: LoginLimiter, db: Database, address: str, name: str) -> None:
    assert limiter.attempt(db, address, name, lambda _db: None) is None


def test_a_name_is_refused_after_its_failures_then_lifted_when_the_window_slides(
    db: Database,
) -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=3, window=60, clock=clock)
    for _ in range(3):
        fail(limiter, db, "10.0.0.1", "alice")
        clock.now += 1

    assert limiter.check(db, "10.0.0.1", "alice").retry_after == 57  # first failure + 60 s
    with pytest.raises(LoginLocked):
        limiter.attempt(db, "10.0.0.1", "alice", lambda _db: "the right password")
    assert limiter.check(db, "10.0.0.1", "bob").retry_after is None
    clock.now += 57
    assert limiter.check(db, "10.0.0.1", "alice").retry_after is None


def test_failures_from_many_addresses_lock_a_name_only_for_the_addresses_that_failed(
    db: Database,
) -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=3, window=60, clock=clock)
    for attacker in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail(limiter, db, attacker, "alice")

    for attacker in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert limiter.check(db, attacker, "alice").retry_after is not None
    assert limiter.attempt(db, "192.0.2.7", "alice", lambda _db: "alice") == "alice"


def test_spraying_names_from_one_address_locks_that_address_and_no_one_else(
    db: Database,
) -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    for index in range(2 * ADDRESS_FACTOR):
        fail(limiter, db, "10.0.0.9", f"user{index}")

    assert limiter.check(db, "10.0.0.9", "someone-new").retry_after is not None
    for index in range(2 * ADDRESS_FACTOR):  # every sprayed name, from another address
        assert limiter.check(db, "192.0.2.7", f"user{index}").retry_after is None


def test_one_failure_per_name_never_reaches_the_name_limit(db: Database) -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    for index in range(2 * ADDRESS_FACTOR - 1):
        fail(limiter, db, "10.0.0.9", f"user{index}")

    assert limiter.check(db, "10.0.0.9", "user0").retry_after is None


def test_success_forgets_this_addresss_failures_for_the_name(db: Database) -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    fail(limiter, db, "10.0.0.1", "alice")
    assert limiter.attempt(db, "10.0.0.1", "alice", lambda _db: "alice") == "alice"
    fail(limiter, db, "10.0.0.1", "alice")

    assert limiter.check(db, "10.0.0.1", "alice").retry_after is None


def test_limiters_of_two_processes_count_the_same_failures(db: Database) -> None:
    clock = Clock()
    first, second = (LoginLimiter(attempts=4, window=60, clock=clock) for _ in range(2))
    for limiter in (first, second, first, second):
        fail(limiter, db, "10.0.0.1", "alice")

    assert first.check(db, "10.0.0.1", "alice").retry_after is not None
    assert second.check(db, "10.0.0.1", "alice").retry_after is not None


def test_failures_older_than_the_window_are_pruned(db: Database) -> None:
    clock = Clock()
    limiter = LoginLimiter(attempts=5, window=60, clock=clock)
    for index in range(3):
        fail(limiter, db, "10.0.0.1", f"user{index}")
    clock.now += 61
    fail(limiter, db, "10.0.0.2", "bob")

    with db.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(LoginFailureRow)).scalar()
    assert count == 1


def test_a_long_name_or_address_is_counted_under_its_prefix(db: Database) -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    fail(limiter, db, "x" * 500, "n" * 5000)
    fail(limiter, db, "x" * 500, "n" * 5000)

    assert limiter.check(db, "x" * 500, "n" * 5000).retry_after is not None


def test_an_ipv6_host_cannot_rotate_through_its_64_to_spray(db: Database) -> None:
    limiter = LoginLimiter(attempts=2, window=60, clock=Clock())
    for index in range(2 * ADDRESS_FACTOR):
        fail(limiter, db, f"2001:db8:1:2::{index + 1:x}", f"user{index}")

    assert limiter.check(db, "2001:db8:1:2:ffff::9", "someone-new").retry_after is not None
    assert limiter.check(db, "2001:db8:1:3::1", "someone-new").retry_after is None


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", "unknown"),
    ],
)
def test_failures_are_counted_under_an_ipv4_address_or_an_ipv6_64(
    address: str, counted: str
) -> None:
    assert counted_address(address) == counted
