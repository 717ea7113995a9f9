"""Shared fixtures: real registry processes on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.processes import RegistryProcess

# Storage emulator fixtures (moto_s3, rclone_s3, azurite, gcs_emulator, ...) for every test.
pytest_plugins = [
    "testbed.emulators",
    "testbed.swift_node",
    "testbed.oss_server",
    "testbed.cloud_registry",
]


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    """One registry process (filesystem storage) shared by the HTTP API tests."""
    server = RegistryProcess(tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()


@pytest.fixture()
def client(registry_server: RegistryProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_server.url, timeout=30.0) as http:
        yield http


@pytest.fixture()
def storage_root(registry_server: RegistryProcess) -> Path:
    return registry_server.storage_root
