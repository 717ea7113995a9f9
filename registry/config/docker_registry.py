"""The `docker_registry` section of hth.json: HTTP and TLS, GC, upload purging, uploads,
backups, and the storage driver with its settings (validated by the driver's own model)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator

from registry.config.base import Section
from registry.config.drivers import SETTINGS_BY_DRIVER, DriverSettings
from registry.config.errors import ConfigError, format_errors
from registry.durations import Duration, duration_text


def _network(item: Any) -> Any:
    """An address (a one-host network) or a CIDR network, with a message that says why not."""
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not a string such as '10.0.0.5' or '10.0.0.0/24'")
    try:
        return ipaddress.ip_network(item.strip())
    except ValueError as exc:
        raise ValueError(f"{item!r} is not an IP address or CIDR network ({exc})") from None


def _check_positive_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"must be a positive duration, got {duration_text(value)!r}")
    return value


class TLSSettings(Section):
    certificate: str | None = None
    key: str | None = None
    minimum_version: Literal["tls1.2", "tls1.3"] = "tls1.2"


class HTTPSettings(Section):
    addr: str = "127.0.0.1:5000"
    tls: TLSSettings = Field(default_factory=TLSSettings)
    secret: SecretStr | None = None
    # Serving plain HTTP beyond loopback must be asked for explicitly.
    allow_insecure: bool = False
    workers: int = Field(default=2, ge=1, le=64)
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR networks); empty: none.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_network(item) for item in value]

    # A request line and headers must arrive within this (408 and close; docs/security.md).
    header_timeout: Duration = timedelta(seconds=30)
    # An idle connection between requests is closed after this (whole seconds, rounded up).
    keepalive_timeout: Duration = timedelta(seconds=30)
    # uvicorn's HTTP/1.1 parser; "auto" is httptools when installed, else h11.
    parser: Literal["auto", "httptools", "h11"] = "auto"
    # Each HTTP worker's event loop: asyncio's own, or uvloop (2 MiB more per worker, the
    # same registry throughput in bench/registry_bench.py: docs/benchmarks.md, "Footprint").
    loop: Literal["asyncio", "uvloop"] = "asyncio"

    _timeouts = field_validator("header_timeout", "keepalive_timeout")(_check_positive_duration)

    @field_validator("addr")
    @classmethod
    def _addr_has_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. '127.0.0.1:5000'")
        return value


class GCSettings(Section):
    schedule: str | None = None
    delete_untagged: bool = False
    grace_period: Duration = timedelta(hours=1)
    # online: instances keep taking writes, the sweep agrees with them per blob (docs/gc.md)
    cluster_mode: Literal["online", "readonly", "stop"] = "online"
    # Niceness added to the GC's threads in the worker and, while it runs, to the worker's
    # session (autogroup) (0-19; 0: the worker's own priority), so that a GC yields the CPU
    # to the registry's clients on shared machines (docs/gc.md, "CPU priority").
    cpu_nice: int = Field(default=10, ge=0, le=19)
    # Threads for the sweep's deletes (reads use at most the driver's read_concurrency).
    workers: int = Field(default=32, ge=1, le=256)
    # Online mode: while other processes keep half a CPU or more busy, the GC works this
    # share of the time and pauses for the rest (1: never pauses; docs/gc.md, "Pacing").
    share_while_busy: float = Field(default=0.25, gt=0, le=1)


class UploadPurgingSettings(Section):
    enabled: bool = True
    age: Duration = timedelta(hours=168)
    interval: Duration = timedelta(hours=24)
    dryrun: bool = False


class UploadSettings(Section):
    # A request writing an upload holds it this long past its last renewal (renewed every
    # third of it while the request lives): how long a killed registry blocks its uploads.
    lock_ttl: Duration = timedelta(seconds=30)
    # A chunk whose bytes stop arriving for this long fails (and frees the upload).
    idle_timeout: Duration = timedelta(seconds=60)


class BackupSettings(Section):
    enabled: bool = True
    directory: str = "/var/opt/hth/backups"
    schedule: str = "0 4 * * *"
    keep: int = Field(default=7, ge=1)


class DockerRegistrySettings(Section):
    storage_driver: str = "filesystem"
    storage_settings: dict[str, Any] = Field(default_factory=dict)
    http: HTTPSettings = Field(default_factory=HTTPSettings)
    gc: GCSettings = Field(default_factory=GCSettings)
    upload_purging: UploadPurgingSettings = Field(default_factory=UploadPurgingSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    backups: BackupSettings = Field(default_factory=BackupSettings)

    @field_validator("storage_driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in SETTINGS_BY_DRIVER:
            known = ", ".join(sorted(SETTINGS_BY_DRIVER))
            raise ValueError(f"unknown storage driver {value!r} (known: {known})")
        return value

    def driver_settings(self) -> DriverSettings:
        """The storage_settings validated by the chosen driver's own model."""
        model = SETTINGS_BY_DRIVER[self.storage_driver]
        try:
            return model.model_validate(self.storage_settings)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, "docker_registry.storage_settings")) from None
