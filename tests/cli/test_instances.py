"""hth-ctl stop|start docker_registry and hth-ctl instances, through the REST API."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from testbed.processes import REPO_ROOT, RegistryProcess

CLUSTER = {"cluster": {"heartbeat_interval": "200ms"}}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[RegistryProcess]:
    proc = RegistryProcess(tmp_path / "r", config=CLUSTER).start()
    yield proc
    proc.stop()


def hth_ctl(server: RegistryProcess, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(server.workdir / "hth.json")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", config, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_stop_and_start_docker_registry(server: RegistryProcess) -> None:
    ping = f"{server.url}/v2/"
    stopped = hth_ctl(server, "stop", "docker_registry")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped on 1 instance(s)" in stopped.stdout
    eventually(lambda: httpx.get(ping).status_code == 503)
    listing = hth_ctl(server, "instances")
    assert "stopped" in listing.stdout and "storage lease: free" in listing.stdout
    started = hth_ctl(server, "start", "docker_registry")
    assert started.returncode == 0, started.stderr
    eventually(lambda: httpx.get(ping).status_code == 200)


def test_unknown_instance_is_one_clear_line(server: RegistryProcess) -> None:
    result = hth_ctl(server, "stop", "docker_registry", "--instance", "nope:1/2")
    assert result.returncode == 1
    assert "404" in result.stderr and "nope:1/2" in result.stderr
    assert "Traceback" not in result.stderr
