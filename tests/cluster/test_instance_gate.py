"""A running registry obeys the storage lease and the operator's stop/start, by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from registry.cluster import instances, leases
from registry.config import parse_settings
from registry.db.database import Database, open_database
from testbed.processes import RegistryProcess

TTL = timedelta(seconds=30)
CLUSTER = {"cluster": {"heartbeat_interval": "200ms", "instance_ttl": "5s"}}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[RegistryProcess]:
    proc = RegistryProcess(tmp_path / "r1", config=CLUSTER).start()
    yield proc
    proc.stop()


@pytest.fixture()
def db(server: RegistryProcess) -> Database:
    return open_database(parse_settings(server.full_config()))


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def start_upload(server: RegistryProcess) -> httpx.Response:
    return httpx.post(f"{server.url}/v2/team/app/blobs/uploads/")


def test_readonly_lease_refuses_writes_keeps_reads_then_serves_again(
    server: RegistryProcess, db: Database
) -> None:
    eventually(lambda: len(instances.live_instances(db, TTL)) == 1)
    lease = leases.acquire(db, "gc-task", "readonly", TTL)
    acked = instances.wait_for_acks(db, lease.token, TTL, timeout=15)
    assert len(acked) == 1
    refused = start_upload(server)
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert int(refused.headers["Retry-After"]) > 0
    assert httpx.get(f"{server.url}/v2/").status_code == 200
    leases.release(db, lease)
    eventually(lambda: start_upload(server).status_code == 202)


def test_stop_lease_refuses_everything(server: RegistryProcess, db: Database) -> None:
    lease = leases.acquire(db, "restore-task", "stop", TTL)
    instances.wait_for_acks(db, lease.token, TTL, timeout=15)
    assert httpx.get(f"{server.url}/v2/").status_code == 503
    row = instances.live_instances(db, TTL)[0]
    assert row.state == "stopped"
    leases.release(db, lease)
    eventually(lambda: httpx.get(f"{server.url}/v2/").status_code == 200)


def test_an_expired_lease_lets_instances_serve_by_themselves(
    server: RegistryProcess, db: Database
) -> None:
    lease = leases.acquire(db, "dying-worker", "readonly", timedelta(seconds=2))
    instances.wait_for_acks(db, lease.token, TTL, timeout=15)
    assert start_upload(server).status_code == 503
    eventually(lambda: start_upload(server).status_code == 202)  # nobody renewed it


def test_operator_stop_and_start(server: RegistryProcess, db: Database) -> None:
    eventually(lambda: len(instances.live_instances(db, TTL)) == 1)
    instances.set_admin_state(db, "stopped")
    eventually(lambda: httpx.get(f"{server.url}/v2/").status_code == 503)
    instances.set_admin_state(db, "serving")
    eventually(lambda: httpx.get(f"{server.url}/v2/").status_code == 200)
