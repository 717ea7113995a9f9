"""The drivers the conformance suite runs against: one table, one entry per driver.

To add a driver, add a `DriverCase` to DRIVERS: a function building its settings (it may ask
for emulator fixtures through `request.getfixturevalue`), whether `redirect_url` must give a
URL, optionally a raw look at the backend that lists anything a test left behind, the
driver's name when the key is not it (one driver against a second backend), the size of the
parts its writer sends when the settings have no `chunksize`, whether it can cut a file
anywhere when a writer resumes at a size, and for the fault tests (test_driver_faults.py) how
its backend refuses a wrong secret and how to start a backend of its own to stop or freeze.
Select one driver with `-k`, e.g. `pytest tests/storage -k s3`.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from registry.storage import PathNotFoundError, StorageDriver, create_driver
from registry.storage.azure.writer import BLOCK_SIZE
from testbed import oss_server, swift_node
from testbed.emulators import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Azurite,
    FakeGCSServer,
    GCSEmulator,
    MotoS3,
    RcloneS3,
)

Settings = dict[str, Any]


@dataclass(frozen=True)
class WrongCredentials:
    """A wrong secret in a driver's settings, and how the error its backend answers begins."""

    key: str  # the setting given a wrong value; the error names it as the one to check
    value: str
    denied: str  # the start of the error message
    # A backend that checks credentials, when the one of `DriverCase.settings` does not.
    settings: Callable[[pytest.FixtureRequest], Settings] | None = None


class Stoppable(Protocol):
    def stop(self) -> None: ...
    def freeze(self) -> None: ...


# Starts a backend for one test in a work folder: the server, settings for a fresh bucket on it.
OwnBackend = Callable[[Path], tuple[Stoppable, Settings]]


@dataclass(frozen=True)
class DriverCase:
    settings: Callable[[pytest.FixtureRequest], Settings]
    redirects: bool = True
    leftovers: Callable[[Settings], list[str]] | None = None
    driver: str = ""  # the driver to create, when it is not the key in DRIVERS
    part_size: int = 0  # when the settings have no chunksize
    cuts_anywhere: bool = False
    wrong_credentials: WrongCredentials | None = None
    own_backend: OwnBackend | None = None  # a backend the outage tests stop and freeze


def filesystem_settings(request: pytest.FixtureRequest) -> Settings:
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    return {"rootdirectory": str(factory.mktemp("fs-storage"))}


def filesystem_leftovers(settings: Settings) -> list[str]:
    # os.walk also sees the temp files that the driver hides from list and walk.
    found = []
    for directory, dirs, files in os.walk(settings["rootdirectory"]):
        found += [os.path.join(directory, name) for name in dirs + files]
    return found


def s3_settings(request: pytest.FixtureRequest) -> Settings:
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return moto.settings(moto.new_bucket(), rootdirectory="/registry-root")


def rclone_s3_settings(request: pytest.FixtureRequest) -> Settings:
    rclone: RcloneS3 = request.getfixturevalue("rclone_s3")  # moto checks no signature
    return rclone.settings(rclone.new_bucket())


def own_s3(workdir: Path) -> tuple[Stoppable, Settings]:
    server = MotoS3(workdir).start()
    return server, server.settings(server.new_bucket())


def s3_leftovers(settings: Settings) -> list[str]:
    client = MotoS3.client_for(settings)
    objects = client.list_objects_v2(Bucket=settings["bucket"]).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=settings["bucket"]).get("Uploads", [])
    return [o["Key"] for o in objects] + [f"upload of {u['Key']}" for u in uploads]


def azure_settings(request: pytest.FixtureRequest) -> Settings:
    azurite: Azurite = request.getfixturevalue("azurite")
    return azurite.settings(azurite.new_container())


def own_azure(workdir: Path) -> tuple[Stoppable, Settings]:
    server = Azurite(workdir).start()
    return server, server.settings(server.new_container())


def azure_leftovers(settings: Settings) -> list[str]:
    from azure.storage.blob import ContainerClient

    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    url = f"{settings['serviceurl']}/{settings['container']}"
    with ContainerClient.from_container_url(url, credential=credential) as container:
        return [blob.name for blob in container.list_blobs(include=["uncommittedblobs"])]


def gcs_settings(request: pytest.FixtureRequest) -> Settings:
    emulator: GCSEmulator = request.getfixturevalue("gcs_emulator")
    keyfile: Path = request.getfixturevalue("gcs_keyfile")
    return emulator.settings(emulator.new_bucket(), keyfile=str(keyfile))


def fake_gcs_settings(request: pytest.FixtureRequest) -> Settings:
    server: FakeGCSServer = request.getfixturevalue("fake_gcs_server")
    keyfile: Path = request.getfixturevalue("gcs_keyfile")
    return server.settings(server.new_bucket(), keyfile=str(keyfile), rootdirectory="/root")


def own_gcs(workdir: Path) -> tuple[Stoppable, Settings]:
    server = GCSEmulator(workdir).start()
    return server, server.settings(server.new_bucket())


def gcs_leftovers(settings: Settings) -> list[str]:
    client = GCSEmulator.client_for(settings)
    return [blob.name for blob in client.list_blobs(settings["bucket"])]


DRIVERS: dict[str, DriverCase] = {
    "filesystem": DriverCase(
        filesystem_settings,
        redirects=False,
        leftovers=filesystem_leftovers,
        part_size=1024 * 1024,  # no parts: any size shows the same
        cuts_anywhere=True,
    ),
    "s3": DriverCase(
        s3_settings,
        leftovers=s3_leftovers,
        wrong_credentials=WrongCredentials(
            "secretkey", "not-the-secret", "s3: access denied", settings=rclone_s3_settings
        ),
        own_backend=own_s3,
    ),
    "azure": DriverCase(
        azure_settings,
        leftovers=azure_leftovers,
        part_size=BLOCK_SIZE,
        wrong_credentials=WrongCredentials(
            "accountkey", base64.b64encode(b"not the key" * 6).decode(), "azure: access denied"
        ),
        own_backend=own_azure,
    ),
    # Neither GCS emulator checks credentials: test_gcs.py shows a bad keyfile refused early.
    "gcs": DriverCase(gcs_settings, leftovers=gcs_leftovers, own_backend=own_gcs),
    "gcs_fake": DriverCase(fake_gcs_settings, leftovers=gcs_leftovers, driver="gcs"),
    "swift": DriverCase(
        swift_node.conformance_settings,
        leftovers=swift_node.leftovers,
        wrong_credentials=WrongCredentials(
            "password", "wrong", "swift: authentication failed for user 'test:tester'"
        ),
    ),
    "oss": DriverCase(
        oss_server.conformance_settings,
        leftovers=oss_server.leftovers,
        wrong_credentials=WrongCredentials(
            "accesskeysecret", "wrong", "oss: access denied (SignatureDoesNotMatch"
        ),
    ),
}


@dataclass
class Backend:
    """A driver under test with what the suite needs to know about it."""

    name: str
    driver: StorageDriver
    settings: Settings
    case: DriverCase

    @property
    def part_size(self) -> int:
        """The size of the parts (blocks, segments) the driver's writer sends."""
        return int(self.settings.get("chunksize") or self.case.part_size)

    def leftovers(self) -> list[str]:
        found = [info.path for info in self.driver.walk("/")]
        if self.case.leftovers is not None:
            found += self.case.leftovers(self.settings)
        return found


@pytest.fixture(scope="session", params=list(DRIVERS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    case = DRIVERS[request.param]
    settings = case.settings(request)
    driver = create_driver(case.driver or request.param, settings)
    yield Backend(request.param, driver, settings, case)
    driver.close()


@pytest.fixture()
def storage(backend: Backend) -> StorageDriver:
    return backend.driver


@pytest.fixture()
def root(backend: Backend) -> Iterator[str]:
    """A fresh directory for one test; afterwards the backend must hold nothing at all."""
    prefix = f"/t-{uuid.uuid4().hex[:12]}"
    yield prefix
    try:
        backend.driver.delete(prefix)
    except PathNotFoundError:
        pass
    assert backend.leftovers() == [], f"{backend.name} storage is not empty after the test"


@pytest.fixture()
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drivers built after this give up on a silent backend within seconds, not minutes."""
    from registry.storage import cloud

    monkeypatch.setattr(cloud, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setattr(cloud, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(cloud, "RETRY_ATTEMPTS", 2)
    monkeypatch.setattr(cloud, "RETRY_DEADLINE", 2.0)


def assert_unavailable(driver: StorageDriver, *, every_call: bool = True) -> None:
    """Calls fail with StorageUnavailableError naming the driver (and nothing hangs)."""
    from registry.storage import StorageUnavailableError

    calls: list[Callable[[], object]] = [
        lambda: driver.get_content("/some/file"),
        lambda: driver.put_content("/some/file", b"x"),
        lambda: driver.list("/some"),
        lambda: driver.stat("/some/file"),
        lambda: list(driver.walk("/some")),
        lambda: driver.delete("/some"),
        lambda: driver.reader("/some/file", 0),
        lambda: driver.writer("/some/upload", append=True),
    ]
    for call in calls if every_call else calls[:3]:
        with pytest.raises(StorageUnavailableError) as caught:
            call()
        assert caught.value.driver == driver.name
