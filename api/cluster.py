"""This process's part in cluster coordination: the write gate and the heartbeat loop.

An instance is one server (`hth-ctl run registry`); each of its HTTP worker processes runs
this loop. The loop reads the storage lease and the operator's wish for the instance, applies
the most restrictive of them to the process's gate, drains its in-flight writes, then
acknowledges the lease token in its heartbeat. A maintenance task proceeds once every live
process of every live instance acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from registry.cluster import generations, instances, leases
from registry.cluster.gc_writer import ONLINE, OnlineGuard
from registry.cluster.secrets import keyring_for
from registry.config import Settings
from registry.db.database import Database, open_database
from registry.errors import Unavailable
from registry.tasks.models import utcnow

log = logging.getLogger("hth.cluster")

_RANK = {"serving": 0, "readonly": 1, "stopped": 2}
# Set by the server (api.server) for the worker processes it starts: the instance they
# belong to and when it started. Without them (an app built in-process) a process is an
# instance of its own.
INSTANCE_ID_ENV = "HTH_INSTANCE_ID"
INSTANCE_STARTED_ENV = "HTH_INSTANCE_STARTED"
# What a read-only registry still serves; every other method is a write.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class WriteGate:
    """Refuses what the current mode forbids; counts writes in flight."""

    mode: str = "serving"
    reason: str = ""
    inflight_writes: int = 0
    retry_after: int = 10

    def admit(self, method: str) -> Callable[[], None]:
        """Admit a request or raise 503 UNAVAILABLE; call the result when it is done."""
        is_write = method not in READ_METHODS
        if self.mode == "stopped" or (self.mode == "readonly" and is_write):
            message = f"registry is {self.mode}" + (f": {self.reason}" if self.reason else "")
            raise Unavailable(message, retry_after=self.retry_after)
        if not is_write:
            return _nothing
        self.inflight_writes += 1
        return self._write_done

    def _write_done(self) -> None:
        self.inflight_writes -= 1


def _nothing() -> None:
    return None


@dataclass
class InstanceAgent:
    settings: Settings
    gate: WriteGate
    id: str = ""
    started_at: datetime = field(default_factory=utcnow)  # the instance's start
    process_started_at: datetime = field(default_factory=utcnow)
    acked_token: int = 0
    admin_state: str = "serving"
    # Applies a configuration generation to this process (AppState.apply_generation).
    apply_config: Callable[[generations.Generation], None] | None = None
    config_generation: int = 0
    config_error: str = ""
    # Told of online GC runs before the lease token is acknowledged (docs/gc.md).
    gc_guard: OnlineGuard | None = None
    _lease_expiry: datetime | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = os.environ.get(INSTANCE_ID_ENV) or own_instance_id(self.settings)
            started = os.environ.get(INSTANCE_STARTED_ENV)
            self.started_at = datetime.fromisoformat(started) if started else self.started_at

    @property
    def db(self) -> Database:
        return open_database(self.settings)  # cached per process; retried while it fails

    def tick(self) -> None:
        """One round: apply a new configuration generation, read the lease, apply it,
        heartbeat (blocking; run it in a thread)."""
        self._follow_generation()
        target, reason, token = self._lease_state()
        if _RANK.get(self.admin_state, 0) > _RANK[target]:
            target, reason = self.admin_state, "set by an operator"
        self.gate.mode, self.gate.reason = target, reason
        if target == "serving" or self.gate.inflight_writes == 0:
            self.acked_token = max(self.acked_token, token)
        ttl = self.settings.cluster.instance_ttl
        self.admin_state = instances.beat(self.db, self._heartbeat(target), ttl)

    def _follow_generation(self) -> None:
        """Apply the newest configuration generation once; a failure is reported in the
        heartbeat (and not retried) until a newer generation is recorded."""
        if self.apply_config is None:
            return
        try:
            found = generations.current(self.db, keyring_for(self.settings))
        except Exception as exc:  # noqa: BLE001 - any database failure: try next round
            log.warning("cannot read the configuration generation: %s", exc)
            return
        if found is None or found.number == self.config_generation:
            return
        error_prefix = generations.APPLY_ERROR.format(number=found.number)
        if self.config_error.startswith(error_prefix):
            return
        try:
            self.apply_config(found)
        except Exception as exc:  # noqa: BLE001 - reported to the reconfigure task
            log.exception("cannot apply configuration generation %d", found.number)
            self.config_error = f"{error_prefix}{type(exc).__name__}: {exc}"
            return
        log.info("applied configuration generation %d", found.number)
        self.config_generation, self.config_error = found.number, ""

    def _lease_state(self) -> tuple[str, str, int]:
        """(instance state, reason, token) that the storage lease asks for."""
        try:
            lease = leases.current(self.db)
        except Exception as exc:  # noqa: BLE001 - any database failure
            log.warning("cannot read the storage lease: %s", exc)
            if self._lease_expiry and self._lease_expiry > utcnow():
                return self.gate.mode, self.gate.reason, self.acked_token  # may still be live
            return "serving", "", 0
        self._lease_expiry = lease.expires_at if lease else None
        if self.gc_guard is not None:  # raises before the token is acknowledged
            self.gc_guard.observe(lease.token if lease and lease.mode == ONLINE else None)
        if lease is None:
            return "serving", "", 0
        what = "online garbage collection" if lease.mode == ONLINE else "maintenance"
        return leases.INSTANCE_STATE[lease.mode], f"{what} by {lease.holder}", lease.token

    def _heartbeat(self, state: str) -> instances.Heartbeat:
        http = self.settings.docker_registry.http
        scheme = "https" if http.tls.certificate else "http"
        return instances.Heartbeat(
            id=self.id,
            address=f"{scheme}://{http.addr}",
            state=state,
            inflight_writes=self.gate.inflight_writes,
            lease_token=self.acked_token,
            config_generation=self.config_generation,
            started_at=self.started_at,
            process_started_at=self.process_started_at,
            detail="; ".join(text for text in (self.gate.reason, self.config_error) if text),
        )

    async def run(self) -> None:
        interval = self.settings.cluster.heartbeat_interval.total_seconds()
        while True:
            try:
                await run_in_threadpool(self.tick)
            except Exception:  # noqa: BLE001 - the loop must survive a database outage
                log.exception("instance heartbeat failed")
            await asyncio.sleep(interval)


def own_instance_id(settings: Settings) -> str:
    """The id of an instance this process starts: "<host>:<port>/<pid>"."""
    port = settings.docker_registry.http.addr.rpartition(":")[2]
    return f"{socket.gethostname()}:{port}/{os.getpid()}"


def instance_env(settings: Settings) -> dict[str, str]:
    """The environment that makes the worker processes of this server one instance: the id
    of this process (the server) and its start."""
    return {INSTANCE_ID_ENV: own_instance_id(settings), INSTANCE_STARTED_ENV: utcnow().isoformat()}
