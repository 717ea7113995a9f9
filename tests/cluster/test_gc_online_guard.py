"""The two halves of online GC on one database: what a process records before acknowledging a
run, what the sweep keeps of it, and the writer's wait on a deleting mark."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from registry.cluster import gc_online, leases
from registry.cluster.gc_fence import FenceExpired, SweepFence
from registry.cluster.gc_writer import OnlineGuard
from registry.config import parse_settings
from registry.db.database import Database, open_database
from registry.tasks.models import utcnow
from testbed.task_platform import postgres_database

TTL = timedelta(seconds=30)
WINDOW = timedelta(minutes=10)


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return open_database(parse_settings({"data_dir": str(tmp_path)}))


def guard_on(db: Database, stale_after: float = 60.0) -> OnlineGuard:
    guard = OnlineGuard(lambda: db, stale_after=stale_after, max_wait=10, poll=0.01)
    guard.observe(None)
    return guard


def fence(db: Database, run: int, window: timedelta = timedelta(0)) -> SweepFence:
    return SweepFence(db, run, lambda: utcnow() + TTL, TTL, window)


def deletable(sweep: SweepFence, keys: list[str]) -> list[str]:
    with sweep.claim(keys) as may_delete:
        return [key for key in keys if may_delete(key)]


def test_a_request_in_flight_when_the_run_starts_is_kept_whatever_the_window(
    db: Database,
) -> None:
    guard = guard_on(db)
    with guard.request_scope():
        guard.protect(["sha256:inflight"])  # no run yet: nothing written to the database
        assert gc_online.touched(db, 7, ["sha256:inflight"], utcnow() - WINDOW) == set()
        guard.observe(7)  # the heartbeat learns of run 7 while the request is in flight
    guard.protect(["sha256:after"])  # during the run: touched at once
    sweep = fence(db, 7)  # grace period 0: no window before the run
    assert deletable(sweep, ["sha256:inflight", "sha256:after", "sha256:unused"]) == [
        "sha256:unused"
    ]
    assert sweep.kept_by_writes == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_key_in_flight_on_one_process_wins_over_an_earlier_use_on_another(
    backend: str, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'hth.db'}"
        if backend == "postgresql":
            url = stack.enter_context(postgres_database())
        db = open_database(parse_settings({"data_dir": str(tmp_path), "database": {"url": url}}))
        done, busy = guard_on(db), guard_on(db)
        with done.request_scope():
            done.protect(["sha256:k"])  # answered before the run, on the first process
        with busy.request_scope():
            busy.protect(["sha256:k"])  # still in flight on the second when the run starts
            done.observe(12)
            busy.observe(12)
            done.observe(12)
        assert deletable(fence(db, 12), ["sha256:k"]) == []
        db.engine.dispose()


def test_keys_used_before_the_run_are_kept_only_within_the_window(db: Database) -> None:
    guard = guard_on(db)
    with guard.request_scope():
        guard.protect(["sha256:headed"])  # answered and done before the run
    guard.observe(8)
    assert deletable(fence(db, 8), ["sha256:headed"]) == ["sha256:headed"]
    assert deletable(fence(db, 8, WINDOW), ["sha256:headed"]) == []


def test_a_stale_view_is_read_again_before_a_write_relies_on_it(db: Database) -> None:
    guard = guard_on(db, stale_after=0.0)
    lease = leases.acquire(db, "gc task", "online", TTL)
    guard.protect(["sha256:layer"])  # the heartbeat has not seen the run: the request reads it
    assert guard.run == lease.token
    assert deletable(fence(db, lease.token), ["sha256:layer"]) == []


def test_a_writer_waits_for_a_live_deleting_mark_and_ignores_an_expired_one(
    db: Database,
) -> None:
    guard = guard_on(db)
    guard.observe(9)
    gc_online.mark_deleting(db, 9, ["sha256:going"], TTL)
    released = threading.Timer(0.3, gc_online.unmark_deleting, (db, 9, ["sha256:going"]))
    released.start()
    started = time.monotonic()
    guard.protect(["sha256:going"])
    assert time.monotonic() - started >= 0.25  # returned only once the sweep was done with it
    gc_online.mark_deleting(db, 10, ["sha256:stale"], timedelta(milliseconds=50))
    time.sleep(0.1)  # a dead worker's mark: expired
    started = time.monotonic()
    guard.protect(["sha256:stale"])
    assert time.monotonic() - started < 0.2


def test_the_sweep_stops_before_deleting_under_a_lease_about_to_expire(db: Database) -> None:
    sweep = SweepFence(db, 11, lambda: utcnow() + timedelta(seconds=5), TTL)
    with pytest.raises(FenceExpired), sweep.claim(["sha256:x"]) as may_delete:
        may_delete("sha256:x")
    assert gc_online.deleting_now(db, ["sha256:x"]) == set()  # its mark is removed
