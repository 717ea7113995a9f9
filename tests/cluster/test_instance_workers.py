"""A real registry with `http.workers: 2` is one instance with two processes: in the API and
`hth-ctl status`, in the lease acks (both must ack), and when one worker is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from registry.cluster import instances, leases
from registry.config import parse_settings
from registry.db.database import Database, open_database
from testbed.processes import REPO_ROOT, RegistryProcess

TTL = timedelta(seconds=3)
CONFIG = {
    "docker_registry": {"http": {"workers": 2}},
    "cluster": {"heartbeat_interval": "200ms", "instance_ttl": "3s"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    proc = RegistryProcess(tmp_path_factory.mktemp("workers") / "r", config=CONFIG)
    try:  # stopped even when it never answers
        proc.start()
        eventually(lambda: len(the_instance(proc)["process_detail"]) == 2, "both workers beat")
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def db(server: RegistryProcess) -> Database:
    return open_database(parse_settings(server.full_config()))


def eventually(check: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached in {timeout:g}s: {what}"
        time.sleep(0.1)


def the_instance(server: RegistryProcess) -> dict[str, Any]:
    [instance] = httpx.get(f"{server.url}/api/v1/instances").json()["instances"]
    assert isinstance(instance, dict)
    return instance


def hth_ctl(server: RegistryProcess, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(server.workdir / "hth.json")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", config, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_two_http_workers_are_one_instance_with_two_processes(server: RegistryProcess) -> None:
    assert server.proc is not None
    instance = the_instance(server)

    # The instance is the server process `hth-ctl run registry`; its workers are inside it.
    assert instance["id"] == f"{socket.gethostname()}:{server.port}/{server.proc.pid}"
    assert (instance["live"], instance["state"], instance["processes"]) == (True, "serving", 2)
    pids = {process["pid"] for process in instance["process_detail"]}
    assert len(pids) == 2 and server.proc.pid not in pids
    one = httpx.get(f"{server.url}/api/v1/instances/{quote(instance['id'], safe='')}")
    assert one.status_code == 200 and one.json()["processes"] == 2
    missing = httpx.get(f"{server.url}/api/v1/instances/nope:1%2F2")
    assert missing.status_code == 404 and "nope:1/2" in missing.json()["detail"]

    done = hth_ctl(server, "status")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = lines[1 : lines.index(next(line for line in lines if "storage lease" in line))]
    assert len(listed) == 1 and instance["id"] in listed[0] and "2 processes" in listed[0]
    listing = hth_ctl(server, "instances", "--processes").stdout.splitlines()
    assert [line.split()[:2] for line in listing if line.startswith("  pid")] == [
        ["pid", str(pid)] for pid in sorted(pids)
    ]


def test_the_ack_waits_for_both_processes_and_a_killed_one_stops_counting(
    server: RegistryProcess, db: Database
) -> None:
    lease = leases.acquire(db, "gc-task", "readonly", timedelta(seconds=30))
    try:
        instances.wait_for_acks(db, lease.token, TTL, timeout=15)
        acked = instances.live_instances(db, TTL)[0].live_processes
        assert [p.lease_token >= lease.token for p in acked] == [True, True]
        # New connections land on either worker: every one refuses the write.
        assert {upload(server) for _ in range(8)} == {503}
    finally:
        leases.release(db, lease)

    killed = the_instance(server)["process_detail"][0]["pid"]
    os.kill(killed, signal.SIGKILL)  # uvicorn starts another worker in its place
    lease = leases.acquire(db, "gc-task", "readonly", timedelta(seconds=30))
    try:
        started = time.monotonic()
        instances.wait_for_acks(db, lease.token, TTL, timeout=15)  # not blocked for good
        waited = time.monotonic() - started
        live = instances.live_instances(db, TTL)[0].live_processes
        assert killed not in [p.pid for p in live], f"acked after {waited:.1f}s"
    finally:
        leases.release(db, lease)

    def pids() -> list[int]:
        return [process["pid"] for process in the_instance(server)["process_detail"]]

    eventually(lambda: killed not in pids(), "the killed worker's row expired")
    eventually(lambda: len(pids()) == 2, "uvicorn's new worker beats in the instance", 120)


def upload(server: RegistryProcess) -> int:
    with httpx.Client() as fresh:  # a new connection each time
        return fresh.post(f"{server.url}/v2/team/app/blobs/uploads/").status_code
