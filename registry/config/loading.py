"""Loading hth.json: where it is found (--config, $HTH_CONFIG, the system file, else the
embedded default), parsing with errors that name the key path, the cached settings of a
process, and the documents derived from them (redacted for display, the cluster-wide part a
configuration generation carries).

Settings are built by `load_settings()` (cached per path), never at import time.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from registry.config.errors import ConfigError, format_errors
from registry.config.sections import SYSTEM_CONFIG, Settings


def discover_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """--config, else $HTH_CONFIG, else the system file when it exists, else None (embedded)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("HTH_CONFIG")
    if env:
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def parse_settings(raw: Any, source: str | None = None) -> Settings:
    """Validate a decoded hth.json document, including the driver's own keys."""
    if not isinstance(raw, dict):
        raise ConfigError("(top level): expected a JSON object")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
    if settings.docker_registry.storage_driver == "filesystem":
        settings.docker_registry.storage_settings.setdefault(
            "rootdirectory", str(Path(settings.data_dir) / "storage" / "docker_registry")
        )
    settings.driver_settings()
    settings.source = source
    return settings


def read_settings_file(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ConfigError(f"{path}: invalid JSON at {where}: {exc.msg}") from None
    return parse_settings(raw, source=str(path))


@lru_cache(maxsize=8)
def _load_cached(path: Path | None) -> Settings:
    return read_settings_file(path) if path else parse_settings({})


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """The effective settings by the discovery order of hth.json."""
    path = discover_config_path(explicit)
    return _load_cached(path.resolve() if path else None)


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as JSON, every secret shown as "***"."""
    data = settings.model_dump(mode="json", exclude={"source"})
    data["docker_registry"]["storage_settings"] = settings.driver_settings().model_dump(mode="json")
    masked: dict[str, Any] = _mask(data)
    return masked


_SECRET_KEYS = {
    "secretkey",
    "accountkey",
    "password",
    "accesskeysecret",
    "secret",
    "secrets_keys",
}


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "***" if key in _SECRET_KEYS and item is not None else _mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if value == "**********":
        return "***"
    if isinstance(value, str):
        # Broker and database URLs may carry a password: scheme://user:***@host
        return _URL_PASSWORD.sub(r"\1***@", value)
    return value


_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@]*:)[^@/]+@", re.IGNORECASE)


# What a configuration generation carries (hth-ctl reconfigure): the parts every process of
# the cluster shares. Addresses, database, queue and cluster timings stay each process's own.
def shared_document(settings: Settings) -> dict[str, Any]:
    """The cluster-wide part of `settings` as a JSON document (storage secrets included)."""
    registry = settings.docker_registry.model_dump(mode="json", exclude={"http"})
    return {"docker_registry": registry, "logging": settings.logging.model_dump(mode="json")}


def with_shared(local: Settings, document: dict[str, Any]) -> Settings:
    """`local` with the cluster-wide part taken from a generation's document."""
    shared = parse_settings(document)
    registry = shared.docker_registry.model_copy(update={"http": local.docker_registry.http})
    return local.model_copy(update={"docker_registry": registry, "logging": shared.logging})


def same_storage(a: Settings, b: Settings) -> bool:
    """Do both settings point at the same storage backend?"""
    ra, rb = a.docker_registry, b.docker_registry
    return (ra.storage_driver, ra.storage_settings) == (rb.storage_driver, rb.storage_settings)
