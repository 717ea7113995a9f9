"""docker_registry.http.loop: each HTTP worker runs the loop chosen (asyncio's own by default,
which does not load uvloop at all) and serves a blob upload and download on either."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess
from testbed.raw_http import descendants


def uvloop_mapped(pid: int) -> bool:
    return "uvloop" in Path(f"/proc/{pid}/maps").read_text()


def push_and_pull(url: str) -> None:
    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/v2/loop/test/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = client.put(started.headers["Location"], params={"digest": digest}, content=data)
        assert done.status_code == 201, done.text
        pulled = client.get(f"/v2/loop/test/blobs/{digest}")
        assert pulled.status_code == 200 and pulled.content == data


@pytest.mark.parametrize(("loop", "uvloop_expected"), [(None, False), ("uvloop", True)])
def test_the_workers_run_the_loop_chosen(
    tmp_path: Path, loop: str | None, uvloop_expected: bool
) -> None:
    http: dict[str, object] = {"workers": 2, **({"loop": loop} if loop else {})}
    server = RegistryProcess(tmp_path, {"docker_registry": {"http": http}}).start()
    try:
        assert server.proc is not None
        workers = descendants(server.proc.pid)
        assert len(workers) == 2
        for _ in range(4):  # the kernel spreads connections over both workers
            push_and_pull(server.url)
        assert [uvloop_mapped(pid) for pid in workers] == [uvloop_expected] * 2
    finally:
        server.stop()
