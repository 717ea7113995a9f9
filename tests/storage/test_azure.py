"""The Azure driver beyond the shared suite: SAS URLs Azurite verifies, a missing container,
faults mid-write. Wrong key, redirects off and outages: test_driver_faults.py."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from registry.storage import StorageDriver, StorageError, create_driver
from registry.storage.azure.writer import BLOCK_SIZE
from testbed.emulators import Azurite
from tests.support.faults import resume_with_a_refused_part


@pytest.fixture()
def azure_driver(azurite: Azurite) -> StorageDriver:
    return create_driver("azure", azurite.settings(azurite.new_container()))


def test_sas_redirect_url_is_checked_by_the_service(azure_driver: StorageDriver) -> None:
    azure_driver.put_content("/blob/data", b"shared")
    url = azure_driver.redirect_url("/blob/data")
    assert url is not None and "sig=" in url and "se=" in url
    assert httpx.get(url).content == b"shared"
    forged = url.replace("sig=", "sig=AAAA")
    assert httpx.get(forged).status_code == 403
    azure_driver.delete("/blob")


def test_missing_container_is_named_in_the_error(azurite: Azurite) -> None:
    driver = create_driver("azure", azurite.settings("no-such-container"))
    with pytest.raises(StorageError, match="container 'no-such-container' does not exist"):
        driver.get_content("/file")


def test_close_without_commit_commits_the_blocks_written_so_far(azurite: Azurite) -> None:
    driver = create_driver("azure", azurite.settings(azurite.new_container()))
    with driver.writer("/upload/data") as writer:
        writer.write(b"staged")
    assert driver.get_content("/upload/data") == b"staged"
    driver.delete("/upload")


def test_blocks_staged_at_once_keep_their_order(azure_driver: StorageDriver) -> None:
    # 7 blocks and a tail: several on the wire at a time, committed in the order written.
    pieces = [bytes([index]) * (BLOCK_SIZE // 2 + 1) for index in range(15)]
    with azure_driver.writer("/ordered/data") as writer:
        for piece in pieces:
            writer.write(piece)
        writer.commit()
    assert azure_driver.get_content("/ordered/data") == b"".join(pieces)
    with azure_driver.writer("/ordered/data", append=True) as writer:
        writer.write(b"more" * BLOCK_SIZE)
        writer.commit()
    content = azure_driver.get_content("/ordered/data")
    assert content == b"".join(pieces) + b"more" * BLOCK_SIZE
    azure_driver.delete("/ordered")


def test_a_failed_block_leaves_the_blob_as_the_writer_found_it(
    azure_driver: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One block refused while the next is staged cannot be produced on a real emulator.
    from azure.core.exceptions import ServiceResponseError
    from azure.storage.blob import BlobClient

    refused = (BlobClient, "stage_block", ServiceResponseError("connection reset"))
    resume_with_a_refused_part(monkeypatch, azure_driver, "/upload/data", BLOCK_SIZE, refused)
    assert azure_driver.get_content("/upload/data") == b"kept;"
    azure_driver.delete("/upload")


def test_rollback_with_a_block_on_the_wire_of_a_frozen_backend_ends_and_keeps_the_blob(
    tmp_path: Path, short_timeouts: None
) -> None:
    server = Azurite(tmp_path).start()
    try:
        driver = create_driver("azure", server.settings(server.new_container()))
        with driver.writer("/upload/data") as writer:
            writer.write(b"kept;")
        writer = driver.writer("/upload/data", append=True)
        server.freeze()
        started = time.monotonic()
        writer.write(b"x" * BLOCK_SIZE)  # staged in the background: it hangs on the wire
        writer.rollback()  # waits for it to fail, within the backend's timeouts
        assert time.monotonic() - started < 30
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGCONT)  # the block may land now: no list names it
        with driver.writer("/upload/data", append=True) as resumed:
            assert resumed.size == 5
        assert driver.get_content("/upload/data") == b"kept;"
    finally:
        server.stop()
