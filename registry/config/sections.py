"""The sections of hth.json as typed models: `Settings` and the platform's sections (queue,
scheduler, Flower, database, auth, cluster, logging); `docker_registry` is in
`docker_registry.py`, the storage drivers' own keys in `drivers.py`, loading in `loading.py`."""

from __future__ import annotations

import base64
import binascii
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from registry.config.base import Section
from registry.config.docker_registry import DockerRegistrySettings
from registry.config.drivers import DriverSettings
from registry.config.password_policy import check_policy
from registry.durations import Duration

SYSTEM_CONFIG = Path("/var/opt/hth/shared/hth.json")
DEFAULT_DATA_DIR = Path("var")


class QueueSettings(Section):
    # None: Celery's filesystem transport under data_dir (the embedded default, no server).
    broker_url: str | None = None
    # Prepended to every Redis key, so several platforms (or test runs) can share one Redis.
    key_prefix: str = ""
    # Pool processes per worker; None: the machine's CPU cores, at most 2 (tasks mostly wait
    # on storage, and each pool process holds a copy of the platform: docs/benchmarks.md).
    concurrency: int | None = Field(default=None, ge=1, le=64)
    # Automatic retries after transient errors or a lost worker; then the task fails.
    max_retries: int = Field(default=3, ge=0, le=100)
    retry_backoff: Duration = timedelta(seconds=2)
    retry_backoff_max: Duration = timedelta(minutes=10)
    # A running task refreshes its heartbeat this often; silent for dead_after = worker died.
    heartbeat: Duration = timedelta(seconds=5)
    dead_after: Duration = timedelta(seconds=30)
    # A queued task whose message never reached the broker is re-sent after this long.
    resend_after: Duration = timedelta(seconds=30)
    # A queued task whose message left the broker's queue (a worker took it) but that no
    # worker started within this long is re-sent: the worker died holding the message.
    start_deadline: Duration = timedelta(seconds=60)
    # Redis re-delivers an unacknowledged message after this; raised to the longest time limit.
    visibility_timeout: Duration = timedelta(hours=12)
    # Each worker serves Prometheus /metrics on this port, bound to the host of
    # docker_registry.http.addr (loopback by default, every interface in compose); 0: off.
    worker_metrics_port: int = Field(default=9808, ge=0, le=65535)

    def worker_concurrency(self) -> int:
        """`concurrency`, else the CPU cores this process may use, at most 2."""
        if self.concurrency is not None:
            return self.concurrency
        return max(1, min(2, len(os.sched_getaffinity(0))))


class SchedulerSettings(Section):
    tick: Duration = timedelta(seconds=1)
    # A beat holds the scheduler lock this long; another beat takes over when it expires.
    leader_ttl: Duration = timedelta(seconds=15)
    # Accept a sixth cron field for seconds: meant for tests and demos, not production.
    cron_seconds: bool = False


class FlowerSettings(Section):
    """Flower (Celery monitoring), always bound to 127.0.0.1 and behind basic auth."""

    enabled: bool = True
    port: int = Field(default=5555, ge=1, le=65535)
    username: str = "admin"
    # None: a random password is generated once and kept in <data_dir>/flower.password.
    password: SecretStr | None = None


class DatabaseSettings(Section):
    url: str | None = None
    # Fernet keys that encrypt the secrets stored in the database (configuration generations):
    # the first encrypts, every one decrypts. Empty: on SQLite a key generated into
    # <data_dir>/secrets.key; on PostgreSQL, no secret may be stored (registry/cluster/secrets.py).
    secrets_keys: list[SecretStr] = Field(default_factory=list)

    @field_validator("secrets_keys")
    @classmethod
    def _fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            try:
                decoded = base64.urlsafe_b64decode(key.get_secret_value().encode())
            except (ValueError, binascii.Error):
                decoded = b""
            if len(decoded) != 32:
                raise ValueError(
                    f"item {index} is not a Fernet key (32 bytes, url-safe base64); "
                    "`hth-ctl secrets new-key` prints a new one"
                )
        return keys


class InitialAdmin(Section):
    """Created on first start when no user of that name exists; never a default password."""

    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> InitialAdmin:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be set together")
        if self.password is not None:
            check_policy(self.password.get_secret_value())
        return self


class AuthSettings(Section):
    # None: on whenever docker_registry.http.addr is beyond loopback, off on loopback.
    enabled: bool | None = None
    initial_admin: InitialAdmin = Field(default_factory=InitialAdmin)
    token_ttl: Duration = timedelta(minutes=5)
    # Refresh tokens (Docker's `offline_token`): revocable like personal access tokens.
    refresh_token_ttl: Duration = timedelta(hours=720)
    # Live refresh tokens kept per user and client_id; a new one revokes the oldest beyond it.
    refresh_tokens_per_client: int = Field(default=10, ge=1, le=1000)
    # Live personal (and robot) tokens a user may hold; making one more is refused (409).
    personal_tokens_per_user: int = Field(default=100, ge=1, le=100_000)
    # None: <scheme>://<host of the request>/auth/token
    realm: str | None = None
    service: str = "hth-registry"
    # Failed logins for one name within login_window before 429 for the addresses that
    # failed it (4x that from one address, for any names); see docs/auth.md.
    login_attempts: int = Field(default=5, ge=1, le=1000)
    login_window: Duration = timedelta(minutes=1)
    # Largest JSON body accepted by /api/ and /auth/ (manifests have their own 4 MiB limit).
    api_body_limit: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)


class ClusterSettings(Section):
    """Timings of instance heartbeats and the storage lease (DESIGN §5)."""

    heartbeat_interval: Duration = timedelta(seconds=1)
    # An instance whose last heartbeat is older than this is dead: it is not waited for.
    instance_ttl: Duration = timedelta(seconds=10)
    # A lease not renewed for this long ends by itself (its holder died).
    lease_ttl: Duration = timedelta(seconds=30)
    # How long a task waits for every live instance to drain its writes and acknowledge.
    ack_timeout: Duration = timedelta(seconds=120)


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "text"


class Settings(Section):
    docker_registry: DockerRegistrySettings = Field(default_factory=DockerRegistrySettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    flower: FlowerSettings = Field(default_factory=FlowerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    # Where the embedded default keeps its SQLite database, queue folder and storage.
    data_dir: str = str(DEFAULT_DATA_DIR)
    source: str | None = Field(default=None, exclude=True)

    def driver_settings(self) -> DriverSettings:
        return self.docker_registry.driver_settings()

    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()
