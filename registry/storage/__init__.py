"""Storage drivers: one small interface, one checking wrapper, drivers found by name."""

from registry.storage.driver import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    StorageUnavailableError,
)
from registry.storage.factory import create_driver, driver_names

__all__ = [
    "FileInfo",
    "FileWriter",
    "InvalidOffsetError",
    "InvalidPathError",
    "PathNotFoundError",
    "StorageDriver",
    "StorageError",
    "StorageUnavailableError",
    "create_driver",
    "driver_names",
]
