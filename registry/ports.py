"""The ports the platform listens on, each named with the setting that moves it, and a check
that they are free: a taken port is one clear sentence before anything starts, not a bare
`[Errno 98] Address already in use` from whichever component bound it first."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.addresses import split_addr
from registry.auth.mode import listen_host

if TYPE_CHECKING:  # only in annotations: this module loads no pydantic (worker/boot.py)
    from registry.config import Settings

WILDCARDS = {"0.0.0.0", "::", ""}
# Flower always listens on loopback (worker/flower.py).
FLOWER_HOST = "127.0.0.1"


class PortUnavailable(Exception):
    """A port the platform needs is taken, cannot be bound, or is set twice."""


@dataclass(frozen=True)
class Listener:
    name: str  # what listens, e.g. "Flower"
    setting: str  # the key of hth.json that changes the port
    host: str
    port: int
    config: str = "hth.json"  # the file that holds the setting

    def describe(self) -> str:
        return f"{self.name}, setting {self.setting} in {self.config}"


def registry_listener(settings: Settings) -> Listener:
    host, port = split_addr(settings.docker_registry.http.addr)
    return Listener("registry HTTP", "docker_registry.http.addr", host, port, _config(settings))


def flower_listener(settings: Settings) -> Listener:
    port = settings.flower.port
    return Listener("Flower", "flower.port", FLOWER_HOST, port, _config(settings))


def worker_metrics_listener(settings: Settings) -> Listener | None:
    """None when `queue.worker_metrics_port` is 0 (no exporter)."""
    port = settings.queue.worker_metrics_port
    if not port:
        return None
    setting = "queue.worker_metrics_port"
    return Listener("worker metrics", setting, listen_host(settings), port, _config(settings))


def platform_listeners(settings: Settings) -> list[Listener]:
    """Every port `hth-ctl up` binds (the beat binds none)."""
    listeners = [registry_listener(settings), worker_metrics_listener(settings)]
    if settings.flower.enabled:
        listeners.append(flower_listener(settings))
    return [listener for listener in listeners if listener is not None]


def _config(settings: Settings) -> str:
    return settings.source or "hth.json"


def check_free(listeners: Iterable[Listener]) -> None:
    """Raise PortUnavailable naming every port that is set twice or cannot be bound now."""
    wanted = list(listeners)
    problems = _clashes(wanted)
    problems += [problem for listener in wanted if (problem := bind_problem(listener))]
    if problems:
        raise PortUnavailable("; ".join(problems))


def _clashes(listeners: list[Listener]) -> list[str]:
    problems = []
    for index, first in enumerate(listeners):
        for second in listeners[index + 1 :]:
            if first.port == second.port and _overlap(first.host, second.host):
                problems.append(
                    f"port {first.port} is set for both {first.name} ({first.setting}) and "
                    f"{second.name} ({second.setting}) in {first.config}; change one of them"
                )
    return problems


def _overlap(a: str, b: str) -> bool:
    return a == b or a in WILDCARDS or b in WILDCARDS


def bind_problem(listener: Listener) -> str | None:
    """Why `listener` cannot listen now (None: it can). Binds as the servers do
    (SO_REUSEADDR: a port left in TIME_WAIT is free) and lets go at once."""
    host, port = listener.host, listener.port
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        return unavailable_message(listener, exc)
    return None


def unavailable_message(listener: Listener, exc: OSError) -> str:
    """One sentence on a failed bind: which port, what listens there, which setting moves it."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {listener.port} ({listener.describe()}) is already in use on {listener.host}"
    reason = exc.strerror or str(exc)
    return f"cannot listen on {listener.host}:{listener.port} ({listener.describe()}): {reason}"
