"""Check a storage backend before it goes live: write, read back, list, sign, delete a probe
object under our own path, outside Distribution's tree."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from registry.layout import HTH_ROOT
from registry.storage import StorageDriver

PROBE_ROOT = f"{HTH_ROOT}/probe"


class ProbeFailed(Exception):
    """The new backend cannot be used; the message says which step failed and why."""


def probe_storage(driver: StorageDriver, timeout: float = 10.0) -> list[str]:
    """Run every step on `driver`; the steps that passed. Raises ProbeFailed on the first one
    that does not, after trying to remove the probe object."""
    path = f"{PROBE_ROOT}/{uuid.uuid4().hex}"
    payload = f"hth probe {path}\n".encode()
    passed: list[str] = []
    try:
        _step(passed, "write", lambda: driver.put_content(path, payload))
        _step(passed, "read back", lambda: _read_back(driver, path, payload))
        _step(passed, "list", lambda: _listed(driver, path))
        _step(passed, "signed URL", lambda: _fetch_signed(driver, path, payload, timeout))
        _step(passed, "delete", lambda: driver.delete(path))
    finally:
        if "delete" not in passed:
            _try_delete(driver, path)
    return passed


def _step(passed: list[str], name: str, action: Callable[[], object]) -> None:
    try:
        result = action()
    except ProbeFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the backend fails the probe
        raise ProbeFailed(f"storage probe failed at {name!r}: {exc}") from None
    if result is not False:
        passed.append(name)


def _read_back(driver: StorageDriver, path: str, payload: bytes) -> None:
    if driver.get_content(path) != payload:
        raise ProbeFailed(f"storage probe failed at 'read back': {path} came back different")


def _listed(driver: StorageDriver, path: str) -> None:
    if path not in driver.list(PROBE_ROOT):
        raise ProbeFailed(f"storage probe failed at 'list': {path} missing from its folder")


def _fetch_signed(driver: StorageDriver, path: str, payload: bytes, timeout: float) -> bool:
    """Fetch the signed URL when the driver redirects clients; False when it serves itself."""
    url = driver.redirect_url(path, "GET")
    if url is None:
        return False
    response = httpx.get(url, timeout=timeout, follow_redirects=True)
    if response.status_code != 200 or response.content != payload:
        raise ProbeFailed(
            f"storage probe failed at 'signed URL': GET {url.split('?')[0]} answered "
            f"{response.status_code}"
        )
    return True


def _try_delete(driver: StorageDriver, path: str) -> None:
    try:
        driver.delete(path)
    except Exception:  # noqa: BLE001, S110 - best effort; the original failure is what matters
        pass
