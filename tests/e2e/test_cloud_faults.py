"""Cloud backends failing under our registry: an outage in the middle of a push gives the client
503 UNAVAILABLE (not a 500, not a hang) and a log line naming the driver and the operation, and
a clean retry succeeds once the backend is back; refused credentials leave the process up with
/readyz answering 503 and naming the driver."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.state import STORAGE_PROBE_TIMEOUT as PROBE_DEADLINE
from testbed.cloud_registry import (
    FAULTY_STORAGE,
    CloudStorage,
    azure_storage,
    log_records,
    oss_storage,
    s3_storage,
    swift_storage,
)
from testbed.emulators import MotoS3
from testbed.processes import RegistryProcess
from tests.support.clients import Skopeo
from tests.support.images import Image, OciLayout, read_dir_copy

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
StartRegistry = Callable[[CloudStorage], RegistryProcess]
# Long enough for every retry a driver makes; a registry that hangs fails the test instead.
CLIENT_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def retry_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Image]:
    layout = tmp_path_factory.mktemp("fault-source") / "layout"
    return layout, OciLayout(layout).write_image("retry", [MiB, 64 * 1024], seed=21)


@pytest.mark.parametrize("driver", list(FAULTY_STORAGE))
def test_outage_mid_push_gives_503_and_a_clean_retry_succeeds(
    driver: str,
    request: pytest.FixtureRequest,
    start_cloud_registry: StartRegistry,
    skopeo: Skopeo,
    retry_image: tuple[Path, Image],
    tmp_path: Path,
) -> None:
    storage, outage = FAULTY_STORAGE[driver](request, tmp_path)
    registry = start_cloud_registry(storage)
    with httpx.Client(base_url=registry.url, timeout=CLIENT_TIMEOUT) as http:
        started = http.post("/v2/fault/image/blobs/uploads/")
        assert started.status_code == 202, started.text
        first = _patch(http, started.headers["location"], 0, b"a" * MiB)
        assert first.status_code == 202, first.text

        outage.stop()
        second = _patch(http, first.headers["location"], MiB, b"b" * MiB)

    assert second.status_code == 503, second.text
    assert second.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert int(second.headers["retry-after"]) > 0
    assert_logged_unavailable(registry, driver)

    outage.restore()
    layout, image = retry_image
    ref = f"docker://{registry.host}/fault/image:1"
    skopeo.copy(f"oci:{layout}:retry", ref)
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}")
    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == image.manifest.digest
    assert set(pulled.blobs) == image.blob_digests


def _patch(http: httpx.Client, location: str, start: int, data: bytes) -> httpx.Response:
    headers = {
        "Content-Range": f"{start}-{start + len(data) - 1}",
        "Content-Type": "application/octet-stream",
    }
    return http.patch(location, content=data, headers=headers)


def assert_logged_unavailable(registry: RegistryProcess, driver: str) -> None:
    """A warning such as `storage s3 write /docker/registry/v2/... unavailable: ...`."""
    line = re.compile(rf"storage {driver} [a-z_]+ /\S* unavailable: ")
    found = [r["msg"] for r in log_records(registry) if line.match(str(r.get("msg")))]
    assert found, f"no storage-unavailable line for {driver} in:\n{registry.log_text()[-3000:]}"


def test_frozen_backend_fails_readiness_at_the_probe_deadline_not_the_driver_timeouts(
    request: pytest.FixtureRequest, start_cloud_registry: StartRegistry, tmp_path: Path
) -> None:
    """A backend that accepts connections and never answers (SIGSTOP) would hold a driver call
    for its read timeouts and retries; /readyz gives up at its own deadline instead."""
    moto = MotoS3(tmp_path / "moto")
    request.addfinalizer(moto.stop)  # resumes the frozen process before stopping it
    registry = start_cloud_registry(s3_storage(moto.start()))
    moto.freeze()

    with httpx.Client(base_url=registry.url, timeout=CLIENT_TIMEOUT) as http:
        ready = http.get("/readyz")

    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["storage"] == f"failed: s3: no answer within {PROBE_DEADLINE:g}s"


# --- refused credentials -----------------------------------------------------------------------


def _s3_wrong_key(request: pytest.FixtureRequest) -> CloudStorage:
    storage = s3_storage(request.getfixturevalue("rclone_s3"))  # rclone checks signatures
    return storage.with_settings(secretkey="not-the-secret-key")


def _azure_wrong_key(request: pytest.FixtureRequest) -> CloudStorage:
    storage = azure_storage(request.getfixturevalue("azurite"))
    return storage.with_settings(accountkey="bm90IHRoZSBhY2NvdW50IGtleQ==")


def _swift_wrong_password(request: pytest.FixtureRequest) -> CloudStorage:
    return swift_storage(request.getfixturevalue("swift_node")).with_settings(password="wrong")


def _oss_wrong_secret(request: pytest.FixtureRequest) -> CloudStorage:
    storage = oss_storage(request.getfixturevalue("oss_server"))
    return storage.with_settings(accesskeysecret="not-the-secret")


# GCS is missing: neither GCS emulator checks credentials, so no test can show a refusal.
WRONG_CREDENTIALS: dict[str, Callable[[pytest.FixtureRequest], CloudStorage]] = {
    "s3": _s3_wrong_key,
    "azure": _azure_wrong_key,
    "swift": _swift_wrong_password,
    "oss": _oss_wrong_secret,
}


@pytest.mark.parametrize("driver", list(WRONG_CREDENTIALS))
def test_refused_credentials_keep_the_process_up_and_fail_readiness_naming_the_driver(
    driver: str, request: pytest.FixtureRequest, start_cloud_registry: StartRegistry
) -> None:
    registry = start_cloud_registry(WRONG_CREDENTIALS[driver](request))

    with httpx.Client(base_url=registry.url, timeout=CLIENT_TIMEOUT) as http:
        alive = http.get("/healthz")
        ready = http.get("/readyz")
        pull = http.get("/v2/some/image/manifests/latest")

    assert alive.status_code == 200
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["storage"].startswith(f"failed: {driver}: ")
    assert pull.status_code == 503, pull.text
    assert pull.json()["errors"][0]["code"] == "UNAVAILABLE"
    startup = [r for r in log_records(registry) if _is_startup_failure(r, driver)]
    assert startup, f"no startup line for {driver} in:\n{registry.log_text()[-3000:]}"


def _is_startup_failure(record: dict[str, Any], driver: str) -> bool:
    message = str(record.get("msg"))
    return record.get("level") == "error" and message.startswith(
        f"storage {driver} not ready at startup"
    )
