"""The Swift driver against a real single-node Swift: Distribution's layout (files/ + DLO
segments/), resumed writes across processes, TempURL redirects, cleanup and faults.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from registry.config.drivers import SwiftSettings
from registry.storage import (
    StorageDriver,
    StorageUnavailableError,
    create_driver,
)
from registry.storage.base import CheckedDriver
from registry.storage.swift.driver import SwiftDriver
from testbed.processes import REPO_ROOT, free_port
from testbed.swift_node import SwiftNode
from tests.support.faults import resume_with_a_refused_part

MiB = 1024 * 1024


@pytest.fixture()
def container(swift_node: SwiftNode) -> str:
    return swift_node.new_container()


@pytest.fixture()
def swift(swift_node: SwiftNode, container: str) -> Iterator[StorageDriver]:
    driver = create_driver("swift", swift_node.settings(container, chunksize=4 * MiB))
    yield driver
    driver.close()


def raw(swift_node: SwiftNode, container: str, name: str) -> httpx.Response:
    url, token = swift_node.session()
    return httpx.head(f"{url}/{container}/{name}?multipart-manifest=get", headers=token)


def segments(swift_node: SwiftNode, container: str) -> list[str]:
    return [name for name in swift_node.objects(container) if name.startswith("segments/")]


def test_streamed_write_becomes_segments_under_a_dlo_manifest(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    piece, expected = os.urandom(MiB), hashlib.sha256()
    with swift.writer("/docker/registry/v2/blobs/data") as writer:
        for index in range(21):
            chunk = bytes([index]) + piece[1:]
            writer.write(chunk)
            expected.update(chunk)
        writer.commit()
    assert swift.stat("/docker/registry/v2/blobs/data").size == 21 * MiB
    actual = hashlib.sha256()
    with swift.reader("/docker/registry/v2/blobs/data") as reader:
        while chunk := reader.read(MiB):
            actual.update(chunk)
    assert actual.hexdigest() == expected.hexdigest()
    manifest = raw(swift_node, container, "files/docker/registry/v2/blobs/data")
    prefix = manifest.headers["X-Object-Manifest"].split("/", 1)[1]
    names = segments(swift_node, container)
    assert names == [f"{prefix}/{number:016d}" for number in range(1, 7)]  # 5 x 4 MiB + 1 MiB


def test_a_segmented_file_is_read_segment_by_segment_from_any_offset(
    swift_node: SwiftNode, container: str
) -> None:
    """More segments than the DLO middleware serves before it slows down to one a second: the
    reader GETs the segments themselves, in name order, from the one holding the offset."""
    driver = create_driver("swift", swift_node.settings(container, chunksize=MiB))
    data = os.urandom(12 * MiB + 5)
    with driver.writer("/big") as writer:
        writer.write(data)
        writer.commit()
    assert len(segments(swift_node, container)) == 13
    for offset in (0, 1, MiB - 1, MiB, 5 * MiB + 7, 12 * MiB, 12 * MiB + 4, len(data)):
        with driver.reader("/big", offset) as reader:
            assert reader.read() == data[offset:], offset
    with driver.reader("/big", 3 * MiB) as reader:
        assert reader.read(2 * MiB + 1) == data[3 * MiB : 5 * MiB + 1]
    driver.close()


def test_streamed_write_holds_a_few_chunks_in_memory_never_the_file(
    swift_node: SwiftNode, container: str
) -> None:
    driver = create_driver("swift", swift_node.settings(container, chunksize=MiB))
    piece = os.urandom(256 * 1024)
    tracemalloc.start()
    try:
        with driver.writer("/big") as writer:
            for _ in range(96):
                writer.write(piece)
            writer.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert driver.stat("/big").size == 24 * MiB
    assert peak < 8 * MiB  # a few copies of one 1 MiB segment, not the 24 MiB file
    driver.delete("/big")
    driver.close()


def write_in_child(settings: dict[str, Any], path: str, data: bytes) -> None:
    """Write `data` to `path` from another process and close the writer without commit."""
    script = (
        "import json, sys\n"
        "from registry.storage import create_driver\n"
        "driver = create_driver(sys.argv[1], json.loads(sys.argv[2]))\n"
        "with driver.writer(sys.argv[3]) as writer:\n"
        "    writer.write(sys.stdin.buffer.read())\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, "swift", json.dumps(settings), path],
        input=data,
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )


def test_append_writer_resumes_what_another_process_wrote(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    first, second = os.urandom(5 * MiB + 123), os.urandom(3 * MiB)
    write_in_child(swift_node.settings(container, chunksize=4 * MiB), "/_uploads/u1/data", first)
    with swift.writer("/_uploads/u1/data", append=True) as writer:
        assert writer.size == len(first)
        writer.write(second)
        writer.commit()
    assert swift.get_content("/_uploads/u1/data") == first + second
    assert len(segments(swift_node, container)) == 3  # 4 MiB + the tail + the appended 3 MiB


def test_each_resumed_chunk_adds_segments_without_rewriting_the_manifest(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    with swift.writer("/_uploads/u3/data") as writer:
        writer.write(b"first;")
    manifest = raw(swift_node, container, "files/_uploads/u3/data").headers
    for chunk in (b"second;", b"third"):
        with swift.writer("/_uploads/u3/data", append=True) as writer:
            writer.write(chunk)
    after = raw(swift_node, container, "files/_uploads/u3/data").headers
    assert after["X-Timestamp"] == manifest["X-Timestamp"]  # the same manifest object
    assert swift.get_content("/_uploads/u3/data") == b"first;second;third"
    assert len(segments(swift_node, container)) == 3


def test_a_segment_swift_stored_differently_is_deleted_and_the_write_fails(
    swift: StorageDriver, swift_node: SwiftNode, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Corruption on the wire cannot be produced here: Swift's answer is given a wrong ETag.
    from swiftclient.client import Connection

    real_put = Connection.put_object
    monkeypatch.setattr(Connection, "put_object", lambda *a, **k: real_put(*a, **k) and "0" * 32)
    writer = swift.writer("/_uploads/u4/data")
    writer.write(os.urandom(4 * MiB))
    with pytest.raises(StorageUnavailableError, match="stored content differs"):
        writer.commit()
    monkeypatch.undo()
    assert segments(swift_node, container) == []


def test_a_failed_segment_leaves_the_file_as_the_writer_found_it(
    swift: StorageDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One segment refused while the next one is stored cannot be produced on a real node.
    from swiftclient.client import ClientException, Connection

    refused = (Connection, "put_object", ClientException("refused", http_status=503))
    calls = resume_with_a_refused_part(monkeypatch, swift, "/_uploads/u5/data", 4 * MiB, refused)
    assert len(calls) >= 3  # the third went out while the second failed
    assert swift.get_content("/_uploads/u5/data") == b"kept;"
    with swift.writer("/_uploads/u5/data", append=True) as writer:
        assert writer.size == 5


def test_append_to_a_plain_object_copies_it_as_the_first_segment(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    swift.put_content("/file", b"plain start;")
    with swift.writer("/file", append=True) as writer:
        writer.write(b"appended")
        writer.commit()
    assert swift.get_content("/file") == b"plain start;appended"
    assert "X-Object-Manifest" in raw(swift_node, container, "files/file").headers


def test_move_of_a_segmented_file_moves_only_its_manifest(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    data = os.urandom(9 * MiB)
    with swift.writer("/_uploads/u2/data") as writer:
        writer.write(data)
        writer.commit()
    before = segments(swift_node, container)
    swift.move("/_uploads/u2/data", "/blobs/sha256/ab/abcd/data")
    assert segments(swift_node, container) == before
    assert swift.get_content("/blobs/sha256/ab/abcd/data") == data
    assert swift.list("/") == ["/blobs"]


def test_replacing_a_segmented_file_deletes_its_old_segments(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    for path in ("/a", "/b", "/c"):
        with swift.writer(path) as writer:
            writer.write(os.urandom(5 * MiB))
            writer.commit()
    assert len(segments(swift_node, container)) == 6
    swift.put_content("/a", b"small now")
    with swift.writer("/b") as writer:
        writer.write(b"rewritten")
        writer.commit()
    swift.move("/b", "/c")
    assert swift.get_content("/a") == b"small now"
    assert swift.get_content("/c") == b"rewritten"
    assert len(segments(swift_node, container)) == 1  # only the rewrite of /b, now /c


def test_delete_of_a_directory_removes_the_segments_of_its_files(
    swift: StorageDriver, swift_node: SwiftNode, container: str
) -> None:
    with swift.writer("/repo/_uploads/u/data") as writer:
        writer.write(os.urandom(5 * MiB))
    swift.put_content("/repo/_uploads/u/startedat", b"2024-01-01T00:00:00Z")
    swift.put_content("/repository", b"sibling sharing the prefix")
    swift.delete("/repo")
    assert swift_node.objects(container) == ["files/repository"]


def test_delete_without_bulk_delete_removes_objects_one_by_one(
    swift_node: SwiftNode, container: str
) -> None:
    inner = SwiftDriver(SwiftSettings.model_validate(swift_node.settings(container)))
    driver = CheckedDriver(inner)
    for index in range(5):
        driver.put_content(f"/dir/{index}", b"x")
    inner.session.bulk_delete_max = 0  # as on a cluster without the bulk middleware
    driver.delete("/dir")
    assert swift_node.objects(container) == []
    driver.close()


def test_listings_page_through_files_and_rolled_up_directories(
    swift_node: SwiftNode, container: str
) -> None:
    inner = SwiftDriver(SwiftSettings.model_validate(swift_node.settings(container)))
    inner.page_size = 2  # Swift pages at 10000 entries; a small page crosses every boundary
    driver = CheckedDriver(inner)
    names = ["a/1", "a/2", "a/3", "a-b", "b/c/d", "b/e", "c", "d/1", "e"]
    for name in names:
        driver.put_content(f"/r/{name}", name.encode())
    assert driver.list("/r") == [f"/r/{n}" for n in ("a", "a-b", "b", "c", "d", "e")]
    walked = [info.path for info in driver.walk("/r") if not info.is_dir]
    assert walked == [f"/r/{n}" for n in sorted(names)]
    driver.delete("/r")
    assert swift_node.objects(container) == []
    driver.close()


def test_prefix_setting_puts_files_and_segments_below_it(
    swift_node: SwiftNode, container: str
) -> None:
    driver = create_driver("swift", swift_node.settings(container, prefix="/reg/one"))
    with driver.writer("/data") as writer:
        writer.write(b"segmented")
    driver.put_content("/link", b"plain")
    names = swift_node.objects(container)
    assert "reg/one/files/data" in names and "reg/one/files/link" in names
    assert [n for n in names if "/segments/" in n][0].startswith("reg/one/segments/")
    driver.delete("/data")
    driver.close()


def test_redirect_url_is_a_tempurl_that_a_plain_get_fetches(swift: StorageDriver) -> None:
    data = os.urandom(5 * MiB)
    with swift.writer("/blobs/data") as writer:
        writer.write(data)
        writer.commit()
    url = swift.redirect_url("/blobs/data")
    assert url is not None and "temp_url_sig=" in url
    assert len(url.split("temp_url_sig=")[1].split("&")[0]) == 64  # sha256 where allowed
    assert httpx.get(url).content == data
    head_url = swift.redirect_url("/blobs/data", "HEAD")
    assert head_url is not None
    assert httpx.head(head_url).headers["Content-Length"] == str(len(data))
    assert swift.redirect_url("/blobs/data", "PUT") is None  # not in tempurlmethods
    assert httpx.get(url.replace("temp_url_sig=", "temp_url_sig=0")).status_code == 401


def test_redirect_url_with_a_container_key_sets_that_key(
    swift_node: SwiftNode, container: str
) -> None:
    driver = create_driver("swift", swift_node.settings(container, tempurlcontainerkey=True))
    driver.put_content("/file", b"served by swift")
    url = driver.redirect_url("/file")
    assert url is not None
    assert httpx.get(url).content == b"served by swift"
    storage_url, token = swift_node.session()
    headers = httpx.head(f"{storage_url}/{container}", headers=token).headers
    assert headers.get("X-Container-Meta-Temp-Url-Key")
    driver.delete("/file")
    driver.close()


def test_unreachable_auth_endpoint_is_unavailable(swift_node: SwiftNode, container: str) -> None:
    settings = swift_node.settings(container, authurl=f"http://127.0.0.1:{free_port()}/auth/v1.0")
    driver = create_driver("swift", settings)
    with pytest.raises(StorageUnavailableError) as caught:
        driver.stat("/file")
    assert caught.value.driver == "swift"


def test_frozen_proxy_makes_calls_time_out_as_unavailable(
    swift_node: SwiftNode, container: str
) -> None:
    settings = SwiftSettings.model_validate(swift_node.settings(container))
    driver = CheckedDriver(SwiftDriver(settings, timeout=(2.0, 2.0), retries=0))
    driver.put_content("/file", b"before the freeze")
    swift_node.freeze_proxy()
    try:
        with pytest.raises(StorageUnavailableError):
            driver.get_content("/file")
    finally:
        swift_node.thaw_proxy()
    assert driver.get_content("/file") == b"before the freeze"
    driver.delete("/file")
    driver.close()


def test_proxy_outage_is_unavailable_and_the_driver_recovers(
    swift: StorageDriver, swift_node: SwiftNode
) -> None:
    swift.put_content("/file", b"survives the outage")
    swift_node.stop_proxy()
    try:
        with pytest.raises(StorageUnavailableError):
            swift.get_content("/file")
        with pytest.raises(StorageUnavailableError):
            swift.put_content("/other", b"x")
    finally:
        swift_node.start_proxy()
    assert swift.get_content("/file") == b"survives the outage"
    swift.delete("/file")
