"""The storage lease: exclusive, fenced by a growing token, ends by expiry or release."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from registry.cluster import instances, leases
from registry.config import parse_settings
from registry.db.database import Database, open_database
from registry.tasks.models import utcnow

TTL = timedelta(seconds=30)


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return open_database(parse_settings({"data_dir": str(tmp_path)}))


def test_a_held_lease_refuses_another_holder_and_names_the_holder(db: Database) -> None:
    leases.acquire(db, "task-a", "readonly", TTL)
    with pytest.raises(leases.LeaseBusy, match="task-a"):
        leases.acquire(db, "task-b", "stop", TTL)


def test_every_acquisition_gets_a_larger_token(db: Database) -> None:
    first = leases.acquire(db, "task-a", "readonly", TTL)
    leases.release(db, first)
    second = leases.acquire(db, "task-b", "stop", TTL)
    again = leases.acquire(db, "task-b", "stop", TTL)  # a redelivered task takes it again
    assert first.token < second.token < again.token


def test_an_expired_lease_is_free_and_its_old_holder_has_lost_it(db: Database) -> None:
    old = leases.acquire(db, "dead-worker", "readonly", timedelta(milliseconds=200))
    time.sleep(0.3)
    assert leases.current(db) is None
    new = leases.acquire(db, "task-b", "readonly", TTL)
    assert new.token > old.token
    with pytest.raises(leases.LeaseLost):
        leases.renew(db, old, TTL)


def test_renew_and_change_mode_keep_the_token(db: Database) -> None:
    lease = leases.acquire(db, "backup", "readonly", TTL)
    lease = leases.change_mode(db, lease, "shared")
    lease = leases.renew(db, lease, TTL)
    live = leases.current(db)
    assert live is not None and (live.mode, live.token) == ("shared", lease.token)


def test_acks_are_awaited_only_from_live_instances(db: Database) -> None:
    hb = instances.Heartbeat("a:1/1", "http://a:1", "readonly", 0, 5, 0, utcnow())
    instances.beat(db, hb)
    instances.beat(db, instances.Heartbeat("b:1/1", "http://b:1", "serving", 0, 0, 0, utcnow()))
    assert [row.id for row in instances.pending_acks(db, 5, TTL)] == ["b:1/1"]
    time.sleep(0.3)
    assert instances.pending_acks(db, 5, timedelta(milliseconds=200)) == []
    with pytest.raises(instances.AckTimeout, match="b:1/1"):
        instances.wait_for_acks(db, 5, TTL, timeout=0.3)


def test_admin_state_of_an_unknown_instance_is_an_error(db: Database) -> None:
    with pytest.raises(instances.UnknownInstance):
        instances.set_admin_state(db, "stopped", "nope")
    with pytest.raises(ValueError, match="state must be one of"):
        instances.set_admin_state(db, "paused")
