"""Whether auth is on: `auth.enabled` when set, else on exactly when the registry listens
beyond loopback (the embedded default on 127.0.0.1 stays open, for local use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.addresses import is_loopback, split_addr

if TYPE_CHECKING:  # only in annotations: this module loads no pydantic (worker/boot.py)
    from registry.config import Settings


def listen_host(settings: Settings) -> str:
    return split_addr(settings.docker_registry.http.addr)[0]


def auth_enabled(settings: Settings) -> bool:
    if settings.auth.enabled is not None:
        return settings.auth.enabled
    return not is_loopback(listen_host(settings))


def describe_mode(settings: Settings) -> str:
    """One line for the startup log saying whether auth is on, and why."""
    addr = settings.docker_registry.http.addr
    if settings.auth.enabled is True:
        return f"auth ON (auth.enabled: true); listening on {addr}"
    if settings.auth.enabled is False:
        return (
            f"auth OFF (auth.enabled: false): anyone who reaches {addr} may push, pull, "
            "delete and use /api/v1"
        )
    if auth_enabled(settings):
        return f"auth ON: {addr} is beyond loopback (set auth.enabled to choose explicitly)"
    return (
        f"auth OFF: {addr} is loopback and auth.enabled is not set, so the registry and "
        "/api/v1 are open to local users; set auth.enabled: true to require credentials"
    )
