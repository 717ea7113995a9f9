"""An instance is a server: its HTTP worker processes beat under it, every live one must ack
a lease, the operator's state covers them all, a dead one expires (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from registry.cluster import instances
from registry.cluster.instances import Heartbeat
from registry.cluster.models import InstanceProcessRow, InstanceRow
from registry.config import parse_settings
from registry.db.database import Database, open_database
from registry.db.rows import col
from registry.db.session import Session
from registry.tasks.models import utcnow
from testbed.task_platform import postgres_database

TTL = timedelta(seconds=30)
SERVER = "vm:5000/10"
STARTED = utcnow()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    raw: dict[str, object] = {"data_dir": str(tmp_path_factory.mktemp("instances"))}
    if request.param == "sqlite":
        yield open_database(parse_settings(raw))
        return
    with postgres_database() as url:
        database = open_database(parse_settings({**raw, "database": {"url": url}}))
        yield database
        database.engine.dispose()


@pytest.fixture()
def db(database: Database) -> Iterator[Database]:
    yield database
    with database.engine.begin() as connection:  # shared by the module: empty it again
        connection.execute(text("DELETE FROM instance_processes"))
        connection.execute(text("DELETE FROM instances"))


def process_beat(
    db: Database, pid: int, token: int = 0, *, writes: int = 0, state: str = "serving"
) -> str:
    hb = Heartbeat(SERVER, "http://vm:5000", state, writes, token, 0, STARTED, pid=pid)
    return instances.beat(db, hb, TTL)


def test_the_worker_processes_of_one_server_are_one_instance(db: Database) -> None:
    process_beat(db, 11, writes=2, state="readonly")
    process_beat(db, 12, writes=1)

    [server] = instances.instances(db, TTL)

    assert server.id == SERVER and server.live
    assert [(p.pid, p.live) for p in server.processes] == [(11, True), (12, True)]
    assert server.inflight_writes == 3
    assert server.state == "serving"  # process 12 still admits writes: so does the server
    assert instances.instance(db, SERVER, TTL) == server


def test_an_instance_acks_the_lease_only_when_every_live_process_did(db: Database) -> None:
    process_beat(db, 11, token=5, state="readonly")
    process_beat(db, 12, token=4, writes=1, state="readonly")  # still draining a write

    assert [view.id for view in instances.pending_acks(db, 5, TTL)] == [SERVER]
    with pytest.raises(instances.AckTimeout, match=r"process 12: 1 writes in flight"):
        instances.wait_for_acks(db, 5, TTL, timeout=0.2, poll=0.05)

    process_beat(db, 12, token=5, state="readonly")
    assert instances.wait_for_acks(db, 5, TTL, timeout=1) == [SERVER]


def test_a_dead_process_blocks_no_ack_and_its_row_expires(db: Database) -> None:
    process_beat(db, 11, token=5)
    process_beat(db, 12, token=0)
    silent_since(db, 12, TTL * 2)  # it died: its last heartbeat is older than the TTL

    assert instances.pending_acks(db, 5, TTL) == []
    [server] = instances.instances(db, TTL)
    assert [(p.pid, p.live) for p in server.processes] == [(11, True), (12, False)]
    assert len(server.live_processes) == 1

    process_beat(db, 11, token=5)

    [server] = instances.instances(db, TTL)
    assert [p.pid for p in server.processes] == [11]  # the sibling's beat forgot it


def silent_since(db: Database, pid: int, age: timedelta) -> None:
    """Back-date a process's heartbeat, as if it had died `age` ago."""
    stmt = (
        update(InstanceProcessRow)
        .where(col(InstanceProcessRow.pid) == pid)
        .values(heartbeat_at=utcnow() - age)
    )
    with db.engine.begin() as connection:
        connection.execute(stmt)


def test_the_operators_state_applies_to_every_process_of_the_instance(db: Database) -> None:
    process_beat(db, 11)
    process_beat(db, 12)
    other = Heartbeat("vm:5001/20", "http://vm:5001", "serving", 0, 0, 0, STARTED, pid=21)
    instances.beat(db, other, TTL)

    assert instances.set_admin_state(db, "stopped", SERVER) == 1

    assert process_beat(db, 11) == process_beat(db, 12) == "stopped"
    assert instances.beat(db, other, TTL) == "serving"


def test_a_row_of_a_registry_older_than_the_process_table_is_one_process(db: Database) -> None:
    now = utcnow()
    old = InstanceRow(
        id="old:5000/77", address="http://old:5000", state="serving", started_at=now,
        heartbeat_at=now,
    )  # fmt: skip
    with Session(db.engine) as session:
        session.add(old)
        session.commit()

    [view] = instances.live_instances(db, TTL)

    assert [p.pid for p in view.live_processes] == [77]
    assert [v.id for v in instances.pending_acks(db, 1, TTL)] == ["old:5000/77"]


def test_processes_of_a_new_instance_beating_at_once_all_register(db: Database) -> None:
    for round_ in range(5):
        server = f"race:5000/{round_}"
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def first_beat(
            pid: int,
            server: str = server,
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                hb = Heartbeat(server, "http://race:5000", "serving", 0, 0, 0, STARTED, pid=pid)
                instances.beat(db, hb, TTL)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=first_beat, args=(pid,)) for pid in (1, 2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert len(instances.instance(db, server, TTL).live_processes) == 3
