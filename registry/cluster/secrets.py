"""Secret values of configuration generations, encrypted at rest with Fernet (AES-128-CBC
and HMAC-SHA256, from `cryptography`).

The keys are each process's own: `database.secrets_keys` (the first encrypts, all decrypt:
rotation), or on a SQLite database without it, a key generated once into
`<data_dir>/secrets.key` (mode 0600). A PostgreSQL database is shared by every machine, so
its key must be given explicitly; without one a secret is refused, never stored in clear.
Which values are secret is read from the settings models: every `SecretStr` field, the
storage driver's included. A sealed value is `{"fernet": <token>, "key": <fingerprint>}`; a
plain string where a secret belongs is a row written before encryption: it still loads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

from registry.config import DockerRegistrySettings, Settings
from registry.config.drivers import SETTINGS_BY_DRIVER

KEY_FILE = "secrets.key"
KEYS = "database.secrets_keys"
Transform = Callable[[Any, str], Any]


class SecretsError(Exception):
    """A secret cannot be sealed or unsealed with this process's keys (named in the message)."""


def fingerprint(key: bytes) -> str:
    """A short name for a key in messages and sealed values; it reveals nothing of the key."""
    return hashlib.sha256(b"hth-secrets-key:" + key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    keys: tuple[bytes, ...] = field(repr=False)  # the first encrypts; every one decrypts
    source: str  # where the keys come from, for messages

    @property
    def primary(self) -> str:
        return fingerprint(self.keys[0])

    def describe(self) -> str:
        names = ", ".join(fingerprint(key) for key in self.keys)
        return (
            f"{self.source} (key {names})"
            if len(self.keys) == 1
            else f"{self.source} (keys {names})"
        )

    # `cryptography` (~8 MiB) is imported when a secret is sealed or unsealed, not to read or
    # make a key: a registry with no sealed configuration never loads it.
    def seal(self, value: str) -> dict[str, str]:
        from cryptography.fernet import Fernet

        token = Fernet(self.keys[0]).encrypt(value.encode()).decode("ascii")
        return {"fernet": token, "key": self.primary}

    def unseal(self, sealed: dict[str, Any], where: str) -> str:
        from cryptography.fernet import Fernet, InvalidToken, MultiFernet

        try:
            fernet = MultiFernet([Fernet(key) for key in self.keys])
            return fernet.decrypt(str(sealed["fernet"]).encode()).decode()
        except (InvalidToken, KeyError, UnicodeDecodeError):
            sealer = sealed.get("key", "unknown")
            raise SecretsError(
                f"{where} cannot be decrypted with {self.describe()}: it was encrypted with key "
                f"{sealer}; give that key in {KEYS} (while rotating: the new key first, then the "
                "old ones)"
            ) from None


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and "fernet" in value


def keyring_for(settings: Settings) -> Keyring | None:
    """This process's keys; None on PostgreSQL without database.secrets_keys."""
    configured = tuple(k.get_secret_value() for k in settings.database.secrets_keys)
    url = settings.database.url
    local = url is None or url.startswith("sqlite")
    return _keyring(configured, str(settings.data_path()) if local else None)


_lock = threading.Lock()
_keyrings: dict[tuple[tuple[str, ...], str | None], Keyring | None] = {}


def _keyring(configured: tuple[str, ...], data_dir: str | None) -> Keyring | None:
    with _lock:  # a key file is read (or made) once per process
        cache_key = (configured, data_dir)
        if cache_key not in _keyrings:
            if configured:
                _keyrings[cache_key] = Keyring(tuple(k.encode() for k in configured), KEYS)
            elif data_dir is not None:
                path = Path(data_dir) / KEY_FILE
                source = f"{path} (generated: {KEYS} is not set)"
                _keyrings[cache_key] = Keyring((_key_file(path),), source)
            else:
                _keyrings[cache_key] = None
        return _keyrings[cache_key]


def _is_fernet_key(key: bytes) -> bool:
    """32 bytes in url-safe base64, as `Fernet(key)` checks it."""
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (ValueError, binascii.Error):
        return False


def _key_file(path: Path) -> bytes:
    """The key in `path`, generated (mode 0600) when missing; concurrent starts agree."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)) + b"\n")  # a Fernet key
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)  # whole, or not at all if another process was first
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
    key = path.read_bytes().strip()
    if not _is_fernet_key(key):
        raise SecretsError(f"{path}: not a Fernet key; set {KEYS} or remove the file") from None
    return key


def seal_document(document: dict[str, Any], keyring: Keyring | None, where: str) -> dict[str, Any]:
    """A copy with every secret value encrypted; SecretsError when there is one but no key."""

    def seal(value: Any, path: str) -> Any:
        if is_sealed(value) or not isinstance(value, str):
            return value
        if keyring is None:
            raise SecretsError(
                f"{where}: {path} is a secret and {KEYS} is not set: a PostgreSQL database is "
                "shared by every machine, so give every instance and worker the same key "
                "(hth-ctl secrets new-key makes one); nothing is stored in clear"
            )
        return keyring.seal(value)

    return _walk(Settings, document, seal, "")


def unseal_document(
    document: dict[str, Any], keyring: Keyring | None, where: str
) -> dict[str, Any]:
    """A copy with every sealed value decrypted (plain ones, from before encryption, kept)."""

    def unseal(value: Any, path: str) -> Any:
        if not is_sealed(value):
            return value
        if keyring is None:
            raise SecretsError(f"{where}: {path} is encrypted and {KEYS} is not set here")
        return keyring.unseal(value, f"{where}: {path}")

    return _walk(Settings, document, unseal, "")


def needs_sealing(document: dict[str, Any], keyring: Keyring) -> bool:
    """Does a stored document hold a secret in clear, or one sealed with another key?"""
    found: list[bool] = []

    def check(value: Any, path: str) -> Any:
        found.append(not is_sealed(value) or value.get("key") != keyring.primary)
        return value

    _walk(Settings, document, check, "")
    return any(found)


def _walk(
    model: type[BaseModel], data: dict[str, Any], transform: Transform, path: str
) -> dict[str, Any]:
    """`data` with `transform(value, key path)` applied to the value of every secret field."""
    out = dict(data)
    for key, value in data.items():
        info = model.model_fields.get(key)
        if info is None or value is None:
            continue
        annotation = info.annotation
        if annotation is SecretStr or SecretStr in get_args(annotation):
            out[key] = transform(value, f"{path}{key}")
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if isinstance(value, dict):
                out[key] = _walk(annotation, value, transform, f"{path}{key}.")
    storage = data.get("storage_settings")
    if model is DockerRegistrySettings and isinstance(storage, dict):
        driver = SETTINGS_BY_DRIVER.get(str(data.get("storage_driver", "filesystem")))
        if driver is not None:
            out["storage_settings"] = _walk(driver, storage, transform, f"{path}storage_settings.")
    return out
