"""hth-ctl up: the README's run command serves the registry, runs the beat (in the first HTTP
worker: no beat process) and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from testbed.processes import REPO_ROOT, free_port, wait_http


def test_up_serves_the_registry_and_stops_all_children_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "hth.json"
    config.write_text(
        json.dumps(
            {
                "data_dir": str(tmp_path / "var"),
                "docker_registry": {"http": {"addr": f"127.0.0.1:{port}"}},
                "flower": {"port": free_port()},
                "queue": {"worker_metrics_port": free_port()},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--config", str(config), "up"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout=60, proc=proc)
        response = httpx.get(f"http://127.0.0.1:{port}/v2/")
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert (tmp_path / "var" / "storage" / "docker_registry").is_dir()
        processes = subprocess.run(
            ["pgrep", "-a", "-s", str(proc.pid)], capture_output=True, text=True
        ).stdout
        assert " run beat" not in processes and "cli.http_worker" in processes, processes
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = output.decode(errors="replace")
    assert "started (tick" in log and ": leading" in log and "stopped" in log, log[-3000:]
    children = subprocess.run(
        ["pgrep", "-s", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children == [], f"children left running: {children}"
