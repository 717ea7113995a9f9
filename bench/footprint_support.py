"""Helpers of bench/footprint.py: free ports, waiting for HTTP, memory figures of a process
tree read from /proc, and the small registry client the load uses (stdlib only)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MANIFEST_REPO = "bench/footprint"
ACCEPT = (
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {what}")
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not within {timeout}s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with 401
    except OSError:
        return False


# --- memory figures from /proc ---


@dataclass(frozen=True)
class Memory:
    """One process: its role in the platform, its PID, VmRSS and PSS in MiB."""

    role: str
    pid: int
    rss_mib: float
    pss_mib: float


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _kib(path: str, key: str) -> float:
    try:
        text = Path(path).read_text()
    except OSError:
        return 0.0
    found = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) if found else 0.0


def memory_of(pid: int, role: str) -> Memory:
    rss = _kib(f"/proc/{pid}/status", "VmRSS")
    pss = _kib(f"/proc/{pid}/smaps_rollup", "Pss")
    return Memory(role, pid, rss / 1024, pss / 1024)


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def role_of(pid: int, parent_role: str | None) -> str:
    """A readable name for one process of an hth-ctl tree, from its command line and parent."""
    args = [arg for arg in cmdline(pid) if arg]
    if parent_role == "worker":  # forked: same command line as its parent
        return "worker pool process"
    if "run" in args:
        component = args[args.index("run") + 1] if args.index("run") + 1 < len(args) else "?"
        return component
    if "worker.boot" in args:  # `hth-ctl run worker|flower` after its exec
        return args[-1]
    if "cli.http_worker" in args:  # started by cli/supervisor.py
        return "registry HTTP worker"
    if "cli.supervisor" in args and args[-1] == "--":  # `run registry`: HTTP workers only
        return "registry (supervisor)"
    if "up" in args or "cli.supervisor" in args:
        return "up supervisor"
    joined = " ".join(args)
    if "resource_tracker" in joined:
        return f"{parent_role} (resource tracker)"
    if parent_role == "registry":
        return "registry HTTP worker"
    return f"{parent_role} child" if parent_role else " ".join(args)[:40]


def tree_memory(root: int) -> list[Memory]:
    """Every process under `root` with its role; the children of each in PID order."""
    rows: list[Memory] = []
    stack: list[tuple[int, str | None]] = [(root, None)]
    while stack:  # depth first: each process's children right after it
        pid, parent_role = stack.pop()
        role = role_of(pid, parent_role)
        rows.append(memory_of(pid, role))
        stack += [(child, role) for child in sorted(children_of(pid), reverse=True)]
    return rows


# --- the registry client of the load ---


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, url, body=body, headers=headers or {})
    response = conn.getresponse()
    headers = {key.lower(): value for key, value in response.headers.items()}
    return response.status, headers, response.read()


def _expect(result: tuple[int, dict[str, str], bytes], status: int, what: str) -> dict[str, str]:
    if result[0] != status:
        raise RuntimeError(f"{what}: expected {status}, got {result[0]}: {result[2][:300]!r}")
    return result[1]


def _push_blob(conn: http.client.HTTPConnection, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    headers = _expect(_request(conn, "POST", f"/v2/{MANIFEST_REPO}/blobs/uploads/"), 202, "POST")
    parts = urlsplit(headers["location"])
    location = parts.path + (f"?{parts.query}&" if parts.query else "?") + f"digest={digest}"
    octet = {"Content-Type": "application/octet-stream"}
    _expect(_request(conn, "PUT", location, data, octet), 201, "PUT blob")
    return digest


def push_small_image(port: int) -> str:
    """A config, one layer and an OCI manifest tagged `latest`; the manifest's URL path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = os.urandom(4096)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _push_blob(conn, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": _push_blob(conn, layer),
                "size": len(layer),
            }
        ],
    }
    url = f"/v2/{MANIFEST_REPO}/manifests/latest"
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    _expect(_request(conn, "PUT", url, json.dumps(manifest).encode(), headers), 201, "PUT manifest")
    conn.close()
    return url


def manifest_gets(port: int, url: str, count: int, connections: int = 4) -> None:
    """`count` manifest GETs over `connections` keep-alive connections, round robin (so both
    HTTP workers of the registry take a share)."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(connections)]
    for index in range(count):
        result = _request(conns[index % connections], "GET", url, headers={"Accept": ACCEPT})
        _expect(result, 200, "GET manifest")
    for conn in conns:
        conn.close()


def run_gc(port: int, timeout: float = 120) -> str:
    """Enqueue one GC through the REST API and wait for it to end; its final state."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"kind": "gc", "params": {"grace_period": "0s"}}).encode()
    json_headers = {"Content-Type": "application/json"}
    result = _request(conn, "POST", "/api/v1/tasks", body, json_headers)
    _expect(result, 202, "POST /api/v1/tasks")
    task_id = json.loads(result[2])["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = _request(conn, "GET", f"/api/v1/tasks/{task_id}")
        state = str(json.loads(_request_body(result, "GET task"))["state"])
        if state in ("succeeded", "failed", "cancelled"):
            conn.close()
            return state
        time.sleep(0.3)
    raise TimeoutError(f"GC task {task_id} did not end within {timeout}s")


def _request_body(result: tuple[int, dict[str, str], bytes], what: str) -> bytes:
    _expect(result, 200, what)
    return result[2]
