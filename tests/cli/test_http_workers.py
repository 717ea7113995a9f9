"""`hth-ctl run registry` with two HTTP workers: the process becomes the stdlib supervisor
(cli/supervisor.py), its only children are the two workers on the socket it bound, a worker
that dies is replaced and the registry keeps serving, and SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from testbed.processes import REPO_ROOT, free_port, wait_http
from testbed.task_platform import wait_until


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(child) for child in found.split())


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def replaced(supervisor: int, dead: int) -> bool:
    children = children_of(supervisor)
    return len(children) == 2 and dead not in children


def live_processes(port: int) -> list[int]:
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/instances", timeout=10).json()
    return [row["processes"] for row in answer["instances"] if row["live"]]


def test_a_dead_http_worker_is_replaced_and_sigterm_stops_all(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "hth.json"
    http = {"addr": f"127.0.0.1:{port}", "workers": 2}
    config.write_text(
        json.dumps({"data_dir": str(tmp_path / "var"), "docker_registry": {"http": http}})
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--config", str(config), "run", "registry"],
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout=120, proc=proc)
        assert "cli.supervisor" in command_line(proc.pid)  # exec'd: same PID
        wait_until(lambda: len(children_of(proc.pid)) == 2, 60, "two HTTP workers")
        first, second = children_of(proc.pid)
        assert all("cli.http_worker" in command_line(pid) for pid in (first, second))
        # One instance (the server) of two processes.
        wait_until(lambda: live_processes(port) == [2], 60, "both workers in one instance")

        os.kill(first, signal.SIGKILL)
        wait_until(lambda: replaced(proc.pid, first), 60, "a replacement worker")
        assert second in children_of(proc.pid)
        assert httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=10).status_code == 200
        workers = children_of(proc.pid)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
