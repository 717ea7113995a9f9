"""Named locks with expiry (beat's leader election), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

from registry.db.database import Database
from registry.tasks.locks import acquire, release

TTL = timedelta(seconds=30)


def test_the_first_holder_gets_the_lock_and_keeps_it_on_renewal(db: Database) -> None:
    token = acquire(db, "beat", "a", TTL)
    assert token == 1
    assert acquire(db, "beat", "a", TTL) == token
    assert acquire(db, "beat", "b", TTL) is None


def test_another_holder_takes_over_an_expired_lock_with_a_higher_token(db: Database) -> None:
    first = acquire(db, "beat", "a", timedelta(milliseconds=50))
    time.sleep(0.1)
    second = acquire(db, "beat", "b", TTL)
    assert first is not None and second is not None and second > first
    assert acquire(db, "beat", "a", TTL) is None


def test_release_lets_another_holder_in_at_once(db: Database) -> None:
    acquire(db, "beat", "a", TTL)
    release(db, "beat", "a")
    assert acquire(db, "beat", "b", TTL) is not None


def test_locks_of_different_names_are_independent(db: Database) -> None:
    assert acquire(db, "beat", "a", TTL) is not None
    assert acquire(db, "other", "b", TTL) is not None
