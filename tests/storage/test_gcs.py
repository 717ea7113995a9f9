"""The GCS driver beyond the shared suite: signed URLs, credentials, faults.

Neither GCS emulator checks credentials, so a wrong key cannot be shown to fail here; what
can be shown is that a keyfile is used for signing and that a bad keyfile is refused early.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from registry.storage import StorageError, create_driver
from tests.storage.conftest import assert_unavailable
from tests.support.emulators import FakeGCSServer, GCSEmulator


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


def test_redirect_off_in_settings_means_no_url(
    gcs_emulator: GCSEmulator, gcs_keyfile: Path
) -> None:
    settings = gcs_emulator.settings("any", keyfile=str(gcs_keyfile), redirect=False)
    assert create_driver("gcs", settings).redirect_url("/blob") is None


@pytest.mark.parametrize("content", [None, "{not json", '{"type": "service_account"}'])
def test_unusable_keyfile_is_refused_naming_the_driver(tmp_path: Path, content: str | None) -> None:
    keyfile = tmp_path / "key.json"
    if content is not None:
        keyfile.write_text(content)
    settings = {"bucket": "b", "keyfile": str(keyfile), "endpoint": "http://127.0.0.1:9"}
    with pytest.raises(StorageError) as caught:
        create_driver("gcs", settings)
    assert str(caught.value).startswith(f"gcs: cannot use keyfile {keyfile}")


def test_stopped_backend_gives_storage_unavailable(tmp_path: Path, short_timeouts: None) -> None:
    server = GCSEmulator(tmp_path).start()
    try:
        driver = create_driver("gcs", server.settings(server.new_bucket()))
        driver.put_content("/some/file", b"x")
    finally:
        server.stop()
    assert_unavailable(driver)


def test_frozen_backend_gives_storage_unavailable(tmp_path: Path, short_timeouts: None) -> None:
    server = GCSEmulator(tmp_path).start()
    try:
        driver = create_driver("gcs", server.settings(server.new_bucket()))
        driver.put_content("/some/file", b"x")
        server.freeze()
        assert_unavailable(driver, every_call=False)
    finally:
        server.stop()
