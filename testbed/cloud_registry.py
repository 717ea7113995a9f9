"""Our registry on a cloud storage driver: a fresh bucket on an emulator, the registry process
configured on it (the TeamHub keys plus the endpoint key), and the same driver in this process.

`CLOUD_STORAGE` builds one `CloudStorage` per driver from the session emulators; the fault tests
build theirs on private emulators they can stop and start (`Outage`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from registry.storage import StorageDriver, create_driver
from testbed.emulators import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Azurite,
    Emulator,
    FakeGCSServer,
    MotoS3,
    write_gcs_keyfile,
)
from testbed.oss_server import OSSServer
from testbed.processes import RegistryProcess
from testbed.swift_node import SwiftNode

Settings = dict[str, Any]
E = TypeVar("E", bound=Emulator)


@dataclass(frozen=True)
class CloudStorage:
    """A driver name, its `storage_settings` and the emulator's address (where redirects go)."""

    driver: str
    settings: Settings
    backend_url: str

    @property
    def backend_host(self) -> str:
        return urlsplit(self.backend_url).netloc

    def with_settings(self, **overrides: Any) -> CloudStorage:
        return CloudStorage(self.driver, {**self.settings, **overrides}, self.backend_url)

    def registry_config(self) -> dict[str, Any]:
        """hth.json overrides: this storage, and JSON logs the tests can read line by line."""
        registry = {"storage_driver": self.driver, "storage_settings": self.settings}
        return {"docker_registry": registry, "logging": {"format": "json"}}

    def open_driver(self) -> StorageDriver:
        """The same driver in this process (for GC and for looking at the backend)."""
        return create_driver(self.driver, self.settings)


# --- one builder per driver, on the session emulators ----------------------------------------


def s3_storage(moto: MotoS3) -> CloudStorage:
    settings = moto.settings(moto.new_bucket(), rootdirectory="/registry")
    return CloudStorage("s3", settings, moto.endpoint)


def azure_storage(azurite: Azurite) -> CloudStorage:
    settings = azurite.settings(azurite.new_container(), rootdirectory="/registry")
    return CloudStorage("azure", settings, azurite.endpoint)


def gcs_storage(server: FakeGCSServer, keyfile: Path) -> CloudStorage:
    # The keyfile lets the driver sign URLs (the emulator does not check the signature).
    settings = server.settings(server.new_bucket(), keyfile=str(keyfile), rootdirectory="/reg")
    return CloudStorage("gcs", settings, server.endpoint)


def swift_storage(node: SwiftNode) -> CloudStorage:
    # 1 MiB segments so that the test images' layers are real multi-segment (DLO) objects.
    settings = node.settings(node.new_container(), chunksize=1024 * 1024)
    return CloudStorage("swift", settings, node.proxy_url)


def oss_storage(server: OSSServer) -> CloudStorage:
    # 512 KiB parts: the layers go up as several multipart-upload parts.
    settings = server.settings(server.new_bucket(), chunksize=512 * 1024, rootdirectory="/reg")
    return CloudStorage("oss", settings, server.endpoint)


def _session_s3(request: pytest.FixtureRequest) -> CloudStorage:
    return s3_storage(request.getfixturevalue("moto_s3"))


def _session_azure(request: pytest.FixtureRequest) -> CloudStorage:
    return azure_storage(request.getfixturevalue("azurite"))


def _session_gcs(request: pytest.FixtureRequest) -> CloudStorage:
    server = request.getfixturevalue("fake_gcs_server")
    return gcs_storage(server, request.getfixturevalue("gcs_keyfile"))


def _session_swift(request: pytest.FixtureRequest) -> CloudStorage:
    return swift_storage(request.getfixturevalue("swift_node"))


def _session_oss(request: pytest.FixtureRequest) -> CloudStorage:
    return oss_storage(request.getfixturevalue("oss_server"))


# Driver name -> a fresh bucket/container on that driver's session emulator.
CLOUD_STORAGE: dict[str, Callable[[pytest.FixtureRequest], CloudStorage]] = {
    "s3": _session_s3,
    "azure": _session_azure,
    "gcs": _session_gcs,
    "swift": _session_swift,
    "oss": _session_oss,
}


# --- outages: a backend that goes away and comes back on the same address ---------------------


@dataclass
class Outage:
    """Stops a backend and brings it back on the same port. In-memory emulators come back
    empty, so `recreate` makes the bucket again (the registry's data is gone with it)."""

    stop: Callable[[], None]
    start: Callable[[], None]
    recreate: Callable[[], None] = field(default=lambda: None)

    def restore(self) -> None:
        self.start()
        self.recreate()


def emulator_outage(emulator: Emulator, recreate: Callable[[], None]) -> Outage:
    def start() -> None:
        emulator.start()

    return Outage(emulator.stop, start, recreate)


# --- registry processes -------------------------------------------------------------------------


class CloudRegistryProcess(RegistryProcess):
    """A registry process whose storage settings are exactly the given ones (the base config's
    filesystem `rootdirectory` is not merged into them)."""

    def full_config(self) -> dict[str, Any]:
        config = super().full_config()
        config["docker_registry"]["storage_settings"] = self.config["docker_registry"][
            "storage_settings"
        ]
        return config


@pytest.fixture()
def start_cloud_registry(tmp_path: Path) -> Iterator[Callable[[CloudStorage], RegistryProcess]]:
    """Start our registry on a `CloudStorage`; every one started is stopped afterwards."""
    started: list[RegistryProcess] = []

    def start(storage: CloudStorage) -> RegistryProcess:
        workdir = tmp_path / f"registry-{len(started)}"
        server = CloudRegistryProcess(workdir, storage.registry_config())
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def log_records(server: RegistryProcess) -> list[dict[str, Any]]:
    """The registry's JSON log lines (anything else it printed is skipped)."""
    records = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


# --- backends the fault tests may take down: private emulators, or the Swift node's proxy -----


def _private(request: pytest.FixtureRequest, emulator: E) -> E:
    request.addfinalizer(emulator.stop)
    emulator.start()
    return emulator


def _faulty_s3(request: pytest.FixtureRequest, workdir: Path) -> tuple[CloudStorage, Outage]:
    moto = _private(request, MotoS3(workdir / "moto"))
    storage = s3_storage(moto)
    bucket = storage.settings["bucket"]
    return storage, emulator_outage(moto, lambda: moto.client().create_bucket(Bucket=bucket))


def _faulty_azure(request: pytest.FixtureRequest, workdir: Path) -> tuple[CloudStorage, Outage]:
    azurite = _private(request, Azurite(workdir / "azurite"))
    storage = azure_storage(azurite)
    container = storage.settings["container"]
    return storage, emulator_outage(azurite, lambda: _create_container(azurite, container))


def _faulty_gcs(request: pytest.FixtureRequest, workdir: Path) -> tuple[CloudStorage, Outage]:
    server = _private(request, FakeGCSServer(workdir / "fake-gcs"))
    storage = gcs_storage(server, write_gcs_keyfile(workdir / "key.json"))
    bucket = storage.settings["bucket"]
    return storage, emulator_outage(server, lambda: _create_gcs_bucket(server, bucket))


def _faulty_swift(request: pytest.FixtureRequest, workdir: Path) -> tuple[CloudStorage, Outage]:
    node: SwiftNode = request.getfixturevalue("swift_node")

    def restart_if_down() -> None:  # the node is shared: never leave it without its proxy
        if "proxy" not in node.procs:
            node.start_proxy()

    request.addfinalizer(restart_if_down)
    return swift_storage(node), Outage(node.stop_proxy, node.start_proxy)


def _faulty_oss(request: pytest.FixtureRequest, workdir: Path) -> tuple[CloudStorage, Outage]:
    server = OSSServer().start()  # in this process: its buckets outlive a stop and start
    request.addfinalizer(server.stop)
    return oss_storage(server), Outage(server.stop, lambda: _restart_oss(server))


def _restart_oss(server: OSSServer) -> None:
    server.start()


def _create_container(azurite: Azurite, container: str) -> None:
    from azure.storage.blob import BlobServiceClient

    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    with BlobServiceClient(azurite.service_url, credential=credential) as service:
        service.create_container(container)


def _create_gcs_bucket(server: FakeGCSServer, name: str) -> None:
    client = server.client_for({"endpoint": server.endpoint})
    client.create_bucket(client.bucket(name))


# Driver name -> (storage on a backend of its own or one that survives an outage, the outage).
FAULTY_STORAGE: dict[str, Callable[[pytest.FixtureRequest, Path], tuple[CloudStorage, Outage]]] = {
    "s3": _faulty_s3,
    "azure": _faulty_azure,
    "gcs": _faulty_gcs,
    "swift": _faulty_swift,
    "oss": _faulty_oss,
}
