"""Drivers by name: one alias table, imported lazily so an SDK loads only when chosen."""

from __future__ import annotations

import importlib

from registry.config.drivers import SETTINGS_BY_DRIVER, DriverSettings
from registry.storage.base import CheckedDriver
from registry.storage.driver import StorageDriver, StorageError

DRIVERS: dict[str, str] = {
    "filesystem": "registry.storage.filesystem.driver:FilesystemDriver",
    "s3": "registry.storage.s3.driver:S3Driver",
    "azure": "registry.storage.azure.driver:AzureDriver",
    "gcs": "registry.storage.gcs.driver:GCSDriver",
    "swift": "registry.storage.swift.driver:SwiftDriver",
    "oss": "registry.storage.oss.driver:OSSDriver",
}


class UnknownDriverError(StorageError):
    pass


def driver_names() -> list[str]:
    return sorted(DRIVERS)


def create_driver(name: str, settings: DriverSettings | dict[str, object]) -> StorageDriver:
    """Build the driver `name` from its settings, wrapped in the checking layer."""
    if name not in DRIVERS:
        raise UnknownDriverError(f"unknown storage driver {name!r} (known: {', '.join(DRIVERS)})")
    if isinstance(settings, dict):
        settings = SETTINGS_BY_DRIVER[name].model_validate(settings)
    module_name, _, class_name = DRIVERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StorageError(
            f"storage driver {name!r} is not available: {exc} (install hth-registry[cloud])",
            driver=name,
        ) from None
    driver_class: type[StorageDriver] = getattr(module, class_name)
    return CheckedDriver(driver_class(settings))  # type: ignore[call-arg]
