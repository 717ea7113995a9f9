"""The OSS driver through oss2 against our OSS-protocol test server (it checks signatures):
multipart writes, resumed writes across processes, server-side moves, signed URLs, faults.
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

from registry.config.drivers import OSSSettings
from registry.storage import (
    PathNotFoundError,
    StorageDriver,
    StorageError,
    StorageUnavailableError,
    create_driver,
)
from registry.storage.base import CheckedDriver
from registry.storage.oss.bucket import endpoint_url
from registry.storage.oss.driver import OSSDriver
from testbed.oss_server import OSSServer, OSSServerProcess
from testbed.processes import REPO_ROOT, free_port

MiB = 1024 * 1024
KiB = 1024


@pytest.fixture()
def bucket(oss_server: OSSServer) -> str:
    return oss_server.new_bucket()


@pytest.fixture()
def oss(oss_server: OSSServer, bucket: str) -> Iterator[StorageDriver]:
    driver = create_driver("oss", oss_server.settings(bucket, chunksize=5 * MiB))
    yield driver
    driver.close()


def calls(server: OSSServer, since: int) -> list[tuple[str, frozenset[str]]]:
    """(method, subresources) of the requests the server saw after the `since`-th one."""
    return [(method, subresources) for method, _, subresources in server.requests[since:]]


def test_streamed_write_of_21_mib_is_a_multipart_upload(
    oss: StorageDriver, oss_server: OSSServer, bucket: str
) -> None:
    piece, expected = os.urandom(MiB), hashlib.sha256()
    start = len(oss_server.requests)
    with oss.writer("/blobs/data") as writer:
        for index in range(21):
            chunk = bytes([index]) + piece[1:]
            writer.write(chunk)
            expected.update(chunk)
        writer.commit()
    seen = calls(oss_server, start)
    assert seen.count(("POST", frozenset({"uploads"}))) == 1
    assert seen.count(("PUT", frozenset({"uploadId", "partNumber"}))) == 5  # 4 x 5 MiB + 1 MiB
    assert seen.count(("POST", frozenset({"uploadId"}))) == 1
    actual = hashlib.sha256()
    with oss.reader("/blobs/data") as reader:
        while chunk := reader.read(MiB):
            actual.update(chunk)
    assert actual.hexdigest() == expected.hexdigest()
    assert oss_server.buckets[bucket].objects["blobs/data"].kind == "Multipart"


def test_streamed_write_holds_a_few_parts_in_memory_never_the_file(
    oss_server_process: OSSServerProcess,
) -> None:
    settings = oss_server_process.settings(oss_server_process.new_bucket(), chunksize=MiB)
    driver = create_driver("oss", settings)
    piece = os.urandom(256 * KiB)
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
    assert peak < 8 * MiB  # a few copies of one 1 MiB part, not the 24 MiB file
    driver.close()


def write_in_child(
    settings: dict[str, Any], path: str, data: bytes, *, append: bool = False
) -> None:
    """Write `data` to `path` from another process and close the writer without commit."""
    script = (
        "import json, sys\n"
        "from registry.storage import create_driver\n"
        "driver = create_driver(sys.argv[1], json.loads(sys.argv[2]))\n"
        "with driver.writer(sys.argv[3], append=sys.argv[4] == 'append') as writer:\n"
        "    writer.write(sys.stdin.buffer.read())\n"
    )
    mode = "append" if append else "new"
    subprocess.run(
        [sys.executable, "-c", script, "oss", json.dumps(settings), path, mode],
        input=data,
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )


def test_close_keeps_the_upload_open_and_a_resume_in_another_process_copies_nothing(
    oss: StorageDriver, oss_server: OSSServer, bucket: str
) -> None:
    first, second = os.urandom(6 * MiB + 7), os.urandom(2 * MiB)
    write_in_child(oss_server.settings(bucket, chunksize=5 * MiB), "/_uploads/u/data", first)
    (upload,) = oss_server.uploads(bucket)
    assert sorted(len(part.data) for part in upload.parts.values()) == [MiB + 7, 5 * MiB]
    marker = oss_server.buckets[bucket].objects["_uploads/u/data"]
    meta = {"x-oss-meta-hth-upload": upload.upload_id, "x-oss-meta-hth-parts": "2"}
    assert (marker.data, marker.meta) == (b"", meta)
    start, copies = len(oss_server.requests), len(oss_server.copies)
    with oss.writer("/_uploads/u/data", append=True) as writer:
        assert writer.size == len(first)
        writer.write(second)
        writer.commit()
    assert calls(oss_server, start) == [
        ("GET", frozenset()),  # the marker (empty here)
        ("GET", frozenset({"uploadId"})),  # ListParts
        ("PUT", frozenset({"uploadId", "partNumber"})),  # the new 2 MiB
        ("POST", frozenset({"uploadId"})),  # complete
    ]
    assert oss_server.copies[copies:] == []
    assert oss.get_content("/_uploads/u/data") == first + second
    assert oss_server.buckets[bucket].objects["_uploads/u/data"].meta == {}


def test_a_chunked_upload_never_copies_or_reads_back_what_it_wrote(
    oss_server: OSSServer, bucket: str
) -> None:
    """PATCH after PATCH (a writer each, as the registry does): parts stay in one upload, tails
    under OSS's 100 KiB minimum wait in the marker (with the previous one), and the object so
    far is never copied."""
    settings = oss_server.settings(bucket, chunksize=256 * KiB)
    chunks = [os.urandom(size) for size in (300 * KiB, 30 * KiB, 90 * KiB, 700 * KiB, 5, 1)]
    driver, copies = create_driver("oss", settings), len(oss_server.copies)
    with driver.writer("/up/data") as writer:
        writer.write(chunks[0])
    for index, chunk in enumerate(chunks[1:]):
        if index == 2:
            write_in_child(settings, "/up/data", b"", append=True)  # another process: no-op
        with driver.writer("/up/data", append=True) as writer:
            assert writer.size == sum(map(len, chunks[: index + 1]))
            writer.write(chunk)
        (upload,) = oss_server.uploads(bucket)
        # The marker: this tail and the previous close's, each under 100 KiB.
        assert len(oss_server.buckets[bucket].objects["up/data"].data) < 200 * KiB
    with driver.writer("/up/data", append=True) as writer:
        writer.commit()
    assert driver.get_content("/up/data") == b"".join(chunks)
    assert oss_server.copies[copies:] == []
    assert oss_server.uploads(bucket) == []
    driver.close()


def test_a_fresh_writer_abandons_an_upload_left_open_at_its_path(
    oss: StorageDriver, oss_server: OSSServer, bucket: str
) -> None:
    with oss.writer("/f") as writer:
        writer.write(os.urandom(200 * KiB))
    with oss.writer("/f") as writer:
        writer.write(b"new")
    assert oss_server.uploads(bucket) == []
    with oss.writer("/f", append=True) as writer:
        assert writer.size == 3
        writer.commit()
    assert oss.get_content("/f") == b"new"


def test_append_to_a_committed_object_copies_it_in_server_side_once(
    oss: StorageDriver, oss_server: OSSServer
) -> None:
    first = os.urandom(300 * KiB)
    oss.put_content("/file", first)
    copies = len(oss_server.copies)
    with oss.writer("/file", append=True) as writer:
        writer.write(b"more")
    with oss.writer("/file", append=True) as writer:
        writer.write(b" and more")
        writer.commit()
    assert oss_server.copies[copies:] == [("file", 300 * KiB)]
    assert oss.get_content("/file") == first + b"more and more"


def test_append_to_an_object_smaller_than_a_part_reads_it_back(
    oss: StorageDriver, oss_server: OSSServer
) -> None:
    oss.put_content("/file", b"small start;")
    start = len(oss_server.requests)
    with oss.writer("/file", append=True) as writer:
        writer.write(b"appended")
        writer.commit()
    assert oss.get_content("/file") == b"small start;appended"
    assert ("POST", frozenset({"uploads"})) not in calls(oss_server, start)


def test_append_writer_that_adds_nothing_changes_nothing(
    oss: StorageDriver, oss_server: OSSServer
) -> None:
    with oss.writer("/file") as writer:
        writer.write(os.urandom(200 * KiB))
        writer.commit()
    start = len(oss_server.requests)
    with oss.writer("/file", append=True) as writer:
        writer.commit()
    assert [method for method, _ in calls(oss_server, start)] == ["GET"]  # dropped unread


def test_move_is_a_server_side_copy(oss: StorageDriver, oss_server: OSSServer) -> None:
    oss.put_content("/_uploads/u/data", b"blob bytes")
    start = len(oss_server.requests)
    oss.move("/_uploads/u/data", "/blobs/data")
    assert [method for method, _ in calls(oss_server, start)] == ["HEAD", "PUT", "DELETE"]
    assert oss.get_content("/blobs/data") == b"blob bytes"


def test_move_of_a_file_too_big_for_copy_object_copies_it_in_parts(
    oss_server: OSSServer, bucket: str
) -> None:
    inner = OSSDriver(OSSSettings.model_validate(oss_server.settings(bucket)))
    driver = CheckedDriver(inner)
    # Scaled down from OSS's 1 GB CopyObject limit, for the server and the driver alike.
    inner.copy_limit = inner.copy_part_size = 300 * KiB
    data = os.urandom(950 * KiB)
    driver.put_content("/src", data)
    limit, oss_server.copy_limit = oss_server.copy_limit, inner.copy_limit
    try:
        driver.move("/src", "/dest")
    finally:
        oss_server.copy_limit = limit
    assert driver.get_content("/dest") == data
    parts = oss_server.buckets[bucket].objects["dest"]
    assert (parts.kind, parts.etag.endswith("-3")) == (
        "Multipart",
        True,
    )  # 300 + 300 + 350 KiB: no part under 100 KiB
    with pytest.raises(PathNotFoundError):
        driver.stat("/src")
    driver.close()


def test_delete_aborts_abandoned_multipart_uploads_below_the_path(
    oss: StorageDriver, oss_server: OSSServer, bucket: str
) -> None:
    import oss2

    settings = oss_server.settings(bucket)
    raw = oss2.Bucket(
        oss2.Auth(settings["accesskeyid"], settings["accesskeysecret"]), oss_server.endpoint, bucket
    )
    raw.init_multipart_upload("repo/_uploads/crashed/data")
    raw.init_multipart_upload("repository/kept")
    oss.put_content("/repo/_uploads/crashed/startedat", b"now")
    oss.delete("/repo")
    assert [upload.key for upload in oss_server.uploads(bucket)] == ["repository/kept"]


def test_encrypt_asks_for_server_side_encryption_on_every_write(
    oss_server: OSSServer, bucket: str
) -> None:
    driver = create_driver("oss", oss_server.settings(bucket, encrypt=True, chunksize=100 * KiB))
    driver.put_content("/put", b"x")
    with driver.writer("/multipart") as writer:
        writer.write(os.urandom(300 * KiB))
        writer.commit()
    driver.move("/put", "/moved")
    objects = oss_server.buckets[bucket].objects
    assert {key: objects[key].encryption for key in objects} == {
        "multipart": "AES256",
        "moved": "AES256",
    }
    driver.close()


def test_listing_follows_continuation_tokens(oss: StorageDriver) -> None:
    for index in range(1203):
        oss.put_content(f"/dir/f{index:04d}", b"")
    names = oss.list("/dir")
    assert names == [f"/dir/f{index:04d}" for index in range(1203)]
    assert sum(1 for _ in oss.walk("/dir")) == 1203
    oss.delete("/dir")


def test_redirect_url_is_a_signed_url_that_a_plain_get_fetches(
    oss: StorageDriver,
) -> None:
    oss.put_content("/blobs/data", b"redirected bytes")
    url = oss.redirect_url("/blobs/data")
    assert url is not None and "Signature=" in url
    assert httpx.get(url).content == b"redirected bytes"
    head_url = oss.redirect_url("/blobs/data", "HEAD")
    assert head_url is not None
    assert httpx.head(head_url).headers["Content-Length"] == "16"
    assert oss.redirect_url("/blobs/data", "PUT") is None
    tampered = httpx.get(url.replace("Expires=", "Expires=1"))
    assert tampered.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in tampered.content


def test_unknown_access_key_id_is_a_clear_error(oss_server: OSSServer, bucket: str) -> None:
    driver = create_driver("oss", oss_server.settings(bucket, accesskeyid="nobody"))
    with pytest.raises(StorageError, match=r"^oss: access denied \(InvalidAccessKeyId"):
        driver.put_content("/file", b"x")


def test_missing_bucket_is_a_clear_error(oss_server: OSSServer) -> None:
    driver = create_driver("oss", oss_server.settings("no-such-bucket"))
    with pytest.raises(StorageError, match="bucket does not exist"):
        driver.put_content("/file", b"x")


def test_unreachable_endpoint_is_unavailable(oss_server: OSSServer, bucket: str) -> None:
    settings = oss_server.settings(bucket, endpoint=f"http://127.0.0.1:{free_port()}")
    driver = create_driver("oss", settings)
    with pytest.raises(StorageUnavailableError) as caught:
        driver.stat("/file")
    assert caught.value.driver == "oss"


def test_hung_server_makes_calls_time_out_as_unavailable(
    oss_server: OSSServer, bucket: str
) -> None:
    settings = OSSSettings.model_validate(oss_server.settings(bucket))
    driver = CheckedDriver(OSSDriver(settings, timeout=(2.0, 2.0)))
    driver.put_content("/file", b"before the freeze")
    oss_server.freeze()
    try:
        with pytest.raises(StorageUnavailableError):
            driver.get_content("/file")
    finally:
        oss_server.thaw()
    assert driver.get_content("/file") == b"before the freeze"
    driver.close()


def test_outage_during_a_read_is_unavailable(oss_server: OSSServer, bucket: str) -> None:
    driver = create_driver("oss", oss_server.settings(bucket))
    data = os.urandom(64 * MiB)  # far more than socket buffers hold
    driver.put_content("/big", data)
    reader = driver.reader("/big")
    try:
        assert reader.read(MiB) == data[:MiB]
        oss_server.stop()
        with pytest.raises(StorageUnavailableError):
            while reader.read(MiB):
                pass
    finally:
        reader.close()
        oss_server.start()
    assert driver.stat("/big").size == len(data)
    driver.close()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "https://oss-cn-hangzhou.aliyuncs.com"),
        ({"internal": True}, "https://oss-cn-hangzhou-internal.aliyuncs.com"),
        ({"secure": False}, "http://oss-cn-hangzhou.aliyuncs.com"),
        ({"endpoint": "oss.example.com"}, "https://oss.example.com"),
        ({"endpoint": "http://10.0.0.1:9000"}, "http://10.0.0.1:9000"),
    ],
)
def test_endpoint_is_built_from_region_as_distribution_does(
    extra: dict[str, Any], expected: str
) -> None:
    keys = {"accesskeyid": "id", "accesskeysecret": "secret", "bucket": "b"}
    settings = OSSSettings.model_validate({**keys, "region": "oss-cn-hangzhou", **extra})
    assert endpoint_url(settings) == expected
