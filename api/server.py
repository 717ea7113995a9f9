"""Run the API with uvicorn: bind checks, TLS, and either one process serving in the
foreground or the listening socket that the HTTP worker processes share (cli/http_worker.py,
started by cli/supervisor.py: no uvicorn supervisor process stays in memory)."""

from __future__ import annotations

import math
import os
import shutil
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from uvicorn.config import Config
from uvicorn.server import Server

from api.cluster import instance_env
from api.protocol.guard import MAX_HEAD_BYTES, HeadLimits
from api.protocol.implementations import protocol_factory
from registry.addresses import is_loopback, split_addr
from registry.config import ConfigError, Settings
from registry.ports import check_free, registry_listener


def check_bind(settings: Settings) -> None:
    """Refuse plain HTTP beyond loopback unless the operator explicitly allowed it."""
    http = settings.docker_registry.http
    host, _ = split_addr(http.addr)
    has_tls = bool(http.tls.certificate and http.tls.key)
    if bool(http.tls.certificate) != bool(http.tls.key):
        raise ConfigError("docker_registry.http.tls: certificate and key must be set together")
    if not has_tls and not is_loopback(host) and not http.allow_insecure:
        raise ConfigError(
            f"docker_registry.http.addr: {http.addr} is not a loopback address and no TLS "
            "certificate is configured; Docker clients require TLS for remote registries. Set "
            "docker_registry.http.tls.certificate/key, or docker_registry.http.allow_insecure: "
            "true to serve plain HTTP anyway (e.g. behind a TLS-terminating load balancer)."
        )
    for label, path in (("certificate", http.tls.certificate), ("key", http.tls.key)):
        if path and not os.path.isfile(path):
            raise ConfigError(f"docker_registry.http.tls.{label}: file not found: {path}")


# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are always modern.
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def _tls_context(
    minimum: ssl.TLSVersion, config: Config, default: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """uvicorn's context with a minimum protocol version (module level: picklable for workers)."""
    context = default()
    context.minimum_version = minimum
    return context


def _multiprocess_metrics_env(settings: Settings) -> dict[str, str]:
    """Worker processes share their Prometheus samples through files in one folder."""
    folder = (
        settings.data_path() / "metrics" / str(split_addr(settings.docker_registry.http.addr)[1])
    )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(folder)}


def _prepare(settings: Settings, config_path: str | None) -> dict[str, str]:
    """Check the bind and the port; the environment of the HTTP worker processes."""
    check_bind(settings)
    # uvicorn's own message for a taken port names neither the port nor the setting.
    check_free([registry_listener(settings)])
    env = {"HTH_CONFIG": os.path.abspath(config_path)} if config_path else {}
    return {**env, **instance_env(settings)}  # one instance, however many processes


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for one HTTP worker process (the app is built from $HTH_CONFIG)."""
    http = settings.docker_registry.http
    minimum = ssl.TLSVersion.TLSv1_3 if http.tls.minimum_version == "tls1.3" else None
    return {
        "app": "api.app:create_app_from_env",
        "factory": True,
        "ssl_certfile": http.tls.certificate,
        "ssl_keyfile": http.tls.key,
        "ssl_ciphers": MODERN_CIPHERS,
        "ssl_context_factory": (
            partial(_tls_context, minimum or ssl.TLSVersion.TLSv1_2)
            if http.tls.certificate
            else None
        ),
        "log_level": settings.logging.level,
        # uvicorn's records go through the root handler registry/logs.py installs, in the
        # configured format (text or JSON), not through uvicorn's own formatter.
        "log_config": None,
        "access_log": False,
        # X-Forwarded-* are read by api.forwarded from docker_registry.http.trusted_proxies
        # only; uvicorn's own handling would believe any local client.
        "proxy_headers": False,
        # Both parsers sit behind the same head limits (api/protocol/guard.py).
        "http": protocol_factory(http.parser, HeadLimits(http.header_timeout.total_seconds())),
        "ws": "none",  # no WebSocket route exists: no upgrade path to guard
        "loop": http.loop,
        "timeout_keep_alive": math.ceil(http.keepalive_timeout.total_seconds()),
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


def serve(settings: Settings, config_path: str | None) -> None:
    """Serve the registry and the management API in this process, in the foreground
    (`docker_registry.http.workers: 1`)."""
    os.environ.update(_prepare(settings, config_path))
    host, port = split_addr(settings.docker_registry.http.addr)
    from uvicorn.main import run  # uvicorn's own entry, which a worker process does not load

    run(host=host, port=port, **uvicorn_options(settings))


def serve_on(settings: Settings, fd: int) -> None:
    """Serve in this process on the listening socket `fd` it inherited (one HTTP worker of
    several, started by cli/supervisor.py through cli/http_worker.py)."""
    listening = socket.socket(fileno=fd)  # the family is read from the descriptor
    Server(Config(**uvicorn_options(settings))).run(sockets=[listening])


@dataclass(frozen=True)
class HttpWorkers:
    """The HTTP worker processes a supervisor starts (cli/supervisor.py): how many, the
    listening socket they share (an inheritable descriptor) and their environment."""

    count: int
    fd: int
    env: dict[str, str]


def prepare_workers(settings: Settings, config_path: str | None) -> HttpWorkers:
    """Check, then bind the registry's listening socket for `count` worker processes that
    inherit it (`docker_registry.http.workers` > 1); each runs cli/http_worker.py."""
    env = _prepare(settings, config_path)
    env.update(_multiprocess_metrics_env(settings))
    host, port = split_addr(settings.docker_registry.http.addr)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return HttpWorkers(settings.docker_registry.http.workers, sock.detach(), env)
