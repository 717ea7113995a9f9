"""Online GC's protocol under many interleavings: nothing a client was told exists, or that a
pushed manifest references, is ever deleted; no push is refused; garbage nobody uses goes.

Real parts throughout: the content layer's push paths (blob HEAD, mount, upload complete,
manifest PUT) with the registry process's OnlineGuard, the real GC (mark, then the Sweeper with
the SweepFence), the storage lease and the shared database (SQLite and PostgreSQL), a
filesystem store (and each cloud driver on its emulator, for a few seeds). The interleaving is
a seed (tests/support/interleave.py): five clients, two instance heartbeats and the GC advance
one protocol step at a time; the GC's first run is killed mid-sweep in half the seeds (its
lease and deleting marks then expire) and a second run must finish the work. Nothing is lost in
any seed; no push is refused when the run keeps what was used in the window before it (a grace
period above 0); with none (grace period 0) a push whose "exists" answer came before the run
may be refused, never lost.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from registry.cluster import gc_online
from registry.cluster.gc_writer import OnlineGuard
from registry.cluster.models import GCDeletingRow, GCRunRow, GCTouchRow, LeaseRow
from registry.config import parse_settings
from registry.db.database import Database, open_database
from registry.maintenance.gc.collect import GCOptions
from registry.storage import StorageDriver, create_driver
from testbed.cloud_registry import CLOUD_STORAGE
from testbed.task_platform import postgres_database
from tests.cluster.online_gc_actor import GCActor
from tests.cluster.online_world import World
from tests.support.interleave import Baton

SEEDS = range(20)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'hth.db'}"
        return
    with postgres_database() as url:
        yield url


def _database(url: str, data: Path) -> Database:
    db = open_database(parse_settings({"data_dir": str(data), "database": {"url": url}}))
    with db.engine.begin() as connection:
        for table in (GCDeletingRow, GCRunRow, GCTouchRow, LeaseRow):
            connection.execute(delete(table))
    return db


def _step_of(baton: Baton) -> object:
    return lambda _label: baton.step(threading.current_thread().name)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_interleaving_loses_or_refuses_a_push(
    seed: int, database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "storage"
    driver = create_driver("filesystem", {"rootdirectory": str(root)})
    interleave(seed, _database(database_url, tmp_path), driver, str(root))


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("driver", list(CLOUD_STORAGE))
def test_the_protocol_does_not_depend_on_the_storage_driver(
    driver: str, seed: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The same on every cloud driver, on its emulator: the protocol makes no storage call of
    its own, and the sweep's deletes and the clients' pushes go through the real driver."""
    storage = CLOUD_STORAGE[driver](request)
    db = _database(f"sqlite:///{tmp_path / 'hth.db'}", tmp_path)
    interleave(seed, db, storage.open_driver(), None)


def interleave(seed: int, db: Database, driver: StorageDriver, root: str | None) -> None:
    rng = random.Random(seed)
    baton = Baton(seed)
    world = World(driver, root, baton)
    world.build()
    guards = [
        OnlineGuard(lambda: db, stale_after=0.3, max_wait=30, poll=0.002, step=_step_of(baton))
        for _ in range(2)
    ]
    for number, guard in enumerate(guards):
        name = f"heartbeat{number}"
        world.acks[name] = 0
        baton.spawn(name, lambda g=guard, n=name: world.heartbeat(db, g, n), main=False)
    options = GCOptions(
        grace_period=timedelta(0),
        delete_untagged=rng.random() < 0.5,
        remove_layer_links=rng.random() < 0.5,
        workers=1,
    )
    window = timedelta(minutes=10) if rng.random() < 0.7 else timedelta(0)
    gc = GCActor(db, driver, world, options, window)
    kill_at = rng.randrange(1, 30) if rng.random() < 0.5 else None
    baton.spawn("gc", lambda: gc.run_twice(kill_at))
    for number in range(5):
        flow, guard, actor = rng.choice(world.flows), rng.choice(guards), f"client{number}"
        baton.spawn(actor, lambda f=flow, g=guard, a=actor: f(a, g))
    baton.run()
    assert not baton.errors, baton.errors[0]
    world.check_pushed_images_pull()
    if window:
        assert world.refused == [], "\n".join([*world.refused, *world.events, *gc.events])
    world.check_kept_images_pull()
    assert gc.completed, "the second GC run did not finish"
    assert not any(world.exists(blob.digest) for blob in world.orphans), "garbage left"
    assert not gc_online.deleting_now(db, [b.digest for b in world.all_blobs]), "marks left"
