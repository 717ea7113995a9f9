"""The GCS driver beyond the shared suite: signed URLs, credentials, faults mid-write (redirects
off and outages: test_driver_faults.py).

Neither GCS emulator checks credentials, so a wrong key cannot be shown to fail here; what
can be shown is that a keyfile is used for signing and that a bad keyfile is refused early.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from registry.layout import UPLOAD_PARTS
from registry.storage import StorageDriver, StorageError, create_driver
from registry.storage.gcs.writer import COMPOSE_LIMIT
from testbed.emulators import FakeGCSServer, GCSEmulator
from tests.storage.conftest import gcs_leftovers
from tests.support.faults import resume_with_a_refused_part

PART = 256 * 1024  # the emulators' chunksize in tests


@pytest.fixture(params=["gcp-storage-emulator", "fake-gcs-server"])
def gcs_settings(request: pytest.FixtureRequest) -> dict[str, object]:
    fixture = "gcs_emulator" if request.param == "gcp-storage-emulator" else "fake_gcs_server"
    emulator: GCSEmulator = request.getfixturevalue(fixture)
    return emulator.settings(emulator.new_bucket(), chunksize=PART)


def test_redirect_url_is_a_v4_signed_url_from_the_keyfile(
    fake_gcs_server: FakeGCSServer, gcs_keyfile: Path
) -> None:
    settings = fake_gcs_server.settings(fake_gcs_server.new_bucket(), keyfile=str(gcs_keyfile))
    driver = create_driver("gcs", settings | {"redirect_expiry": "5m"})
    driver.put_content("/blob/data", b"signed")
    url = driver.redirect_url("/blob/data")
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Credential"][0].startswith("hth-test@hth-test.iam.gserviceaccount.com/")
    assert query["X-Goog-Expires"] == ["300"]
    assert len(query["X-Goog-Signature"][0]) == 512  # hex of a 2048-bit RSA signature
    assert httpx.get(url).content == b"signed"
    driver.delete("/blob")


def test_without_a_signing_key_the_registry_serves_blobs_itself(
    gcs_emulator: GCSEmulator,
) -> None:
    driver = create_driver("gcs", gcs_emulator.settings(gcs_emulator.new_bucket()))
    driver.put_content("/blob", b"x")
    assert driver.redirect_url("/blob") is None
    driver.delete("/blob")


@pytest.mark.parametrize("content", [None, "{not json", '{"type": "service_account"}'])
def test_unusable_keyfile_is_refused_naming_the_driver(tmp_path: Path, content: str | None) -> None:
    keyfile = tmp_path / "key.json"
    if content is not None:
        keyfile.write_text(content)
    settings = {"bucket": "b", "keyfile": str(keyfile), "endpoint": "http://127.0.0.1:9"}
    with pytest.raises(StorageError) as caught:
        create_driver("gcs", settings)
    assert str(caught.value).startswith(f"gcs: cannot use keyfile {keyfile}")


def test_parts_of_an_unfinished_write_go_with_its_folder(gcs_settings: dict[str, object]) -> None:
    driver = create_driver("gcs", gcs_settings)
    with driver.writer("/upload/data") as writer:
        writer.write(b"p" * (3 * PART + 10))
    parts = [name for name in gcs_leftovers(gcs_settings) if name.startswith(UPLOAD_PARTS[1:])]
    assert len(parts) == 3
    driver.delete("/upload")
    assert gcs_leftovers(gcs_settings) == []


def test_a_write_of_more_parts_than_one_compose_takes_resumes_after_a_fold(
    gcs_settings: dict[str, object],
) -> None:
    driver = create_driver("gcs", gcs_settings)
    first, second = b"a" * (COMPOSE_LIMIT + 3) * PART, b"b" * (COMPOSE_LIMIT * PART + 7)
    with driver.writer("/upload/data") as writer:
        writer.write(first)
    with driver.writer("/upload/data", append=True) as writer:
        assert writer.size == len(first)
        writer.write(second)
        writer.commit()
    assert driver.get_content("/upload/data") == first + second
    assert gcs_leftovers(gcs_settings) == ["upload/data"]
    with driver.writer("/upload/data", append=True) as writer:  # a file now, not a marker
        assert writer.size == len(first + second)
        writer.write(b"c")
        writer.commit()
    assert driver.stat("/upload/data").size == len(first + second) + 1
    driver.delete("/upload")


def test_a_failed_part_leaves_the_write_as_it_was(
    gcs_settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    from google.auth.transport.requests import AuthorizedSession

    driver: StorageDriver = create_driver("gcs", gcs_settings)
    refused = (AuthorizedSession, "post", requests.ConnectionError("connection reset"))
    resume_with_a_refused_part(monkeypatch, driver, "/upload/data", PART, refused)
    with driver.writer("/upload/data", append=True) as writer:
        assert writer.size == len(b"kept;")
        writer.commit()  # and the parts the failed writer sent go too
    assert gcs_leftovers(gcs_settings) == ["upload/data"]
    assert driver.get_content("/upload/data") == b"kept;"
    driver.delete("/upload")
