"""The task platform's real processes for tests: registry/API, Celery workers, beats (each
`hth-ctl run X` with one shared hth.json), a key-prefixed namespace on the machine's Redis,
and a private Redis with AOF that a test may kill and restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from testbed.processes import REPO_ROOT, deep_merge, free_port, wait_http

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
FINISHED = ("succeeded", "failed", "cancelled")
READY = {"worker": " ready.", "beat": "started (tick"}


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.1)


class RedisNamespace:
    """A unique key prefix on a Redis, whose keys are deleted at the end."""

    def __init__(self, url: str = MACHINE_REDIS) -> None:
        self.url = url
        self.prefix = f"hth-test-{uuid.uuid4().hex[:12]}:"

    def cleanup(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        except redis.RedisError:
            pass
        finally:
            client.close()


@dataclass
class PrivateRedis:
    """redis-server with AOF (fsync always) on a free port, for kill/restart tests."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            shutil.which("redis-server") or "redis-server",
            "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ]  # fmt: skip
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), 10, "private redis answering")
        client.close()
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    stop = kill


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@dataclass
class Component:
    """One `hth-ctl run <name>` child process in its own process group."""

    name: str
    config_file: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Component:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        args = [sys.executable, "-m", "cli.main", "--config", str(self.config_file)]
        self.proc = subprocess.Popen(
            [*args, "run", self.name],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-3000:]}")
            return text in self.log_text()

        wait_until(seen, timeout, f"{self.name} logging {text!r}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the component and its children (a crash)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class TaskPlatform:
    """A registry/API plus any workers and beats, sharing one hth.json under `workdir`."""

    workdir: Path
    config: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    components: list[Component] = field(default_factory=list)
    http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.workdir / "hth.json"

    def full_config(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "data_dir": str(self.workdir / "var"),
            "docker_registry": {
                "storage_settings": {"rootdirectory": str(self.workdir / "storage")},
                "http": {"addr": f"127.0.0.1:{self.port}"},
                "upload_purging": {"enabled": False},
                "backups": {"directory": str(self.workdir / "backups")},
            },
            "queue": {
                "concurrency": 2,
                "heartbeat": "0.5s",
                "dead_after": "8s",
                "resend_after": "2s",
                "retry_backoff": "0.5s",
                "retry_backoff_max": "2s",
            },
            "scheduler": {"tick": "0.2s", "leader_ttl": "2s", "cron_seconds": True},
        }
        return deep_merge(base, self.config)

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(self.full_config()))

    def _component(self, name: str) -> Component:
        self.write_config()
        index = sum(1 for c in self.components if c.name == name)
        component = Component(name, self.config_file, self.workdir / f"{name}-{index}.log")
        self.components.append(component)
        return component.start()

    def start(self, *names: str) -> list[Component]:
        """Start components ("registry", "worker", "beat") together; return once all are up."""
        started = [self._component(name) for name in names]
        for component in started:
            if component.name == "registry":
                wait_http(f"{self.url}/healthz", timeout=90, proc=component.proc)
                self.http = self.http or httpx.Client(base_url=self.url, timeout=30)
            else:
                component.wait_log(READY[component.name], timeout=90)
        return started

    def start_registry(self) -> Component:
        return self.start("registry")[0]

    def start_worker(self) -> Component:
        return self.start("worker")[0]

    def start_beat(self) -> Component:
        return self.start("beat")[0]

    def stop(self) -> None:
        """SIGTERM every component at once, then wait for each (SIGKILL after 15s)."""
        for component in self.components:
            component.terminate()
        for component in self.components:
            component.stop()
        if self.http is not None:
            self.http.close()

    def logs(self) -> str:
        return "\n".join(f"--- {c.log_path.name}\n{c.log_text()[-4000:]}" for c in self.components)

    # --- the REST API

    def api(self) -> httpx.Client:
        assert self.http is not None, "start_registry() first"
        return self.http

    def enqueue(self, kind: str, **params: Any) -> dict[str, Any]:
        response = self.api().post("/api/v1/tasks", json={"kind": kind, "params": params})
        assert response.status_code == 202, response.text
        task: dict[str, Any] = response.json()
        return task

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.api().get(f"/api/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task

    def wait_task(
        self, task_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        try:
            task: dict[str, Any] = wait_until(
                lambda: (t := self.task(task_id)) and predicate(t) and t, timeout, "task state"
            )
        except TimeoutError:
            raise AssertionError(f"{self.task(task_id)}\n{self.logs()}") from None
        return task

    def wait_finished(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_task(task_id, lambda t: t["state"] in FINISHED, timeout)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database on the machine's PostgreSQL (or $HTH_TEST_POSTGRES, which
    scripts/test.sh sets when it starts a private one); its URL, dropped afterwards."""
    import psycopg

    server = os.environ.get("HTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"hth_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class UpPlatform:
    """`hth-ctl up` on the embedded default (filesystem transport, SQLite) under `workdir`."""

    workdir: Path
    port: int = field(default_factory=free_port)
    flower_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.workdir / "hth.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "up.log"

    def start(self) -> UpPlatform:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "data_dir": str(self.workdir / "var"),
            "docker_registry": {
                "http": {"addr": f"127.0.0.1:{self.port}"},
                "backups": {"directory": str(self.workdir / "backups")},
            },
            "queue": {
                "concurrency": 2,
                "heartbeat": "0.5s",
                "dead_after": "8s",
                # `up` refuses a taken port: not the default 9808 another run may hold.
                "worker_metrics_port": free_port(),
            },
            "flower": {"port": self.flower_port},
        }
        self.config_file.write_text(json.dumps(config))
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--config", str(self.config_file), "up"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        wait_http(f"{self.url}/healthz", timeout=90, proc=self.proc)
        wait_http(f"http://127.0.0.1:{self.flower_port}/healthcheck", timeout=90, proc=self.proc)
        wait_until(lambda: " ready." in self.log_text(), 90, "the worker ready")
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        """Ctrl-C, as an operator would; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None

    def hth_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cli.main", "--config", str(self.config_file), *args]
        result = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
        )
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"hth-ctl up exited:\n{self.log_text()[-5000:]}")
        return result
