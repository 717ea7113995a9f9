"""Start and stop the project's real processes (registry servers, ...) on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it is still running after 10 s; waits for it either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            httpx.get(url, timeout=1.0, verify=False)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class RegistryProcess:
    """A `hth-ctl run registry` child process with its own hth.json."""

    workdir: Path
    config: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = (
            "https" if self.config.get("docker_registry", {}).get("http", {}).get("tls") else "http"
        )
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage_root(self) -> Path:
        return Path(self.full_config()["docker_registry"]["storage_settings"]["rootdirectory"])

    def full_config(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "data_dir": str(self.workdir / "var"),
            "docker_registry": {
                "storage_driver": "filesystem",
                "storage_settings": {"rootdirectory": str(self.workdir / "storage")},
                "http": {"addr": f"127.0.0.1:{self.port}", "workers": 1},
            },
        }
        return deep_merge(base, self.config)

    def start(self) -> RegistryProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "hth.json"
        config_file.write_text(json.dumps(self.full_config()))
        log = open(self.workdir / "registry.log", "ab")  # noqa: SIM115 - owned by the child
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--config", str(config_file), "run", "registry"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        # Generous: a loaded 2-core machine can take more than 20 s to import the app.
        wait_http(f"{self.url}/healthz", timeout=60, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def log_text(self) -> str:
        path = self.workdir / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def cluster_of_two(
    base: Path, config: dict[str, Any] | None = None
) -> Iterator[tuple[RegistryProcess, RegistryProcess]]:
    """Two registry processes of one cluster: storage and database shared (plus `config`)."""
    shared = {
        "database": {"url": f"sqlite:///{base / 'shared.db'}"},
        "docker_registry": {"storage_settings": {"rootdirectory": str(base / "storage")}},
    }
    shared = deep_merge(shared, config or {})
    first = RegistryProcess(base / "first", shared).start()
    try:
        second = RegistryProcess(base / "second", shared).start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()
