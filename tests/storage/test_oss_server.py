"""Our OSS test server against the oss2 SDK and raw HTTP: it must accept what oss2 signs, refuse
bad signatures as OSS does, and follow OSS's listing and multipart rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from email.utils import formatdate

import httpx
import oss2
import pytest
from oss2.exceptions import (
    AccessDenied,
    NoSuchKey,
    NoSuchUpload,
    ServerError,
    SignatureDoesNotMatch,
)
from oss2.models import PartInfo

from testbed.oss_server import OSSServer

KiB = 1024


@pytest.fixture()
def bucket(oss_server: OSSServer) -> oss2.Bucket:
    auth = oss2.Auth(oss_server.access_key_id, oss_server.access_key_secret)
    return oss2.Bucket(auth, oss_server.endpoint, oss_server.new_bucket())


def sign(secret: str, method: str, resource: str, date: str) -> str:
    """OSS V1 as Aliyun documents it, for a request without body, type or x-oss- headers."""
    to_sign = f"{method}\n\n\n{date}\n{resource}"
    return base64.b64encode(
        hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()


def test_requests_signed_by_oss2_are_accepted(bucket: oss2.Bucket) -> None:
    bucket.put_object("dir/key with spaces+plus", b"content")
    assert bucket.get_object("dir/key with spaces+plus").read() == b"content"
    assert bucket.head_object("dir/key with spaces+plus").content_length == 7


def test_a_request_without_signature_is_refused(oss_server: OSSServer, bucket: oss2.Bucket) -> None:
    bucket.put_object("key", b"x")
    reply = httpx.get(f"{oss_server.endpoint}/{bucket.bucket_name}/key")
    assert reply.status_code == 403
    assert b"<Code>AccessDenied</Code>" in reply.content


def test_a_wrong_secret_gets_signature_does_not_match_with_the_string_to_sign(
    oss_server: OSSServer, bucket: oss2.Bucket
) -> None:
    wrong = oss2.Bucket(
        oss2.Auth(oss_server.access_key_id, "not the secret"),
        oss_server.endpoint,
        bucket.bucket_name,
    )
    with pytest.raises(SignatureDoesNotMatch) as caught:
        wrong.put_object("key", b"x")
    assert caught.value.details["StringToSign"].startswith("PUT\n")


def test_a_correct_signature_on_a_stale_date_is_refused(
    oss_server: OSSServer, bucket: oss2.Bucket
) -> None:
    resource = f"/{bucket.bucket_name}/key"
    url = f"{oss_server.endpoint}{resource}"
    for age, status in ((0, 404), (3600, 403)):
        date = formatdate(time.time() - age, usegmt=True)
        signature = sign(oss_server.access_key_secret, "GET", resource, date)
        auth = f"OSS {oss_server.access_key_id}:{signature}"
        reply = httpx.get(url, headers={"Date": date, "Authorization": auth})
        assert reply.status_code == status
    assert b"<Code>RequestTimeTooSkewed</Code>" in reply.content


def test_signed_urls_work_until_they_expire(bucket: oss2.Bucket) -> None:
    bucket.put_object("key", b"shared")
    assert httpx.get(bucket.sign_url("GET", "key", 60)).content == b"shared"
    expired = httpx.get(bucket.sign_url("GET", "key", -1))
    assert expired.status_code == 403 and b"expired" in expired.content
    head_signed = bucket.sign_url("HEAD", "key", 60)
    assert httpx.get(head_signed).status_code == 403  # a signature covers its method


def test_head_of_a_missing_key_is_no_such_key(bucket: oss2.Bucket) -> None:
    with pytest.raises(NoSuchKey):
        bucket.head_object("missing")
    with pytest.raises(NoSuchKey):
        bucket.get_object("missing")


def test_ranges_follow_oss_rules(bucket: oss2.Bucket) -> None:
    bucket.put_object("key", b"0123456789")
    assert bucket.get_object("key", byte_range=(2, 4)).read() == b"234"
    assert bucket.get_object("key", byte_range=(7, None)).read() == b"789"
    assert bucket.get_object("key", byte_range=(20, None)).read() == b"0123456789"
    standard = {"x-oss-range-behavior": "standard"}
    with pytest.raises(ServerError) as caught:
        bucket.get_object("key", byte_range=(20, None), headers=standard)
    assert (caught.value.status, caught.value.code) == (416, "InvalidRange")


@pytest.mark.parametrize("iterator", [oss2.ObjectIterator, oss2.ObjectIteratorV2])
def test_listings_page_with_prefix_and_delimiter(bucket: oss2.Bucket, iterator: type) -> None:
    for key in ("r/a/1", "r/a/2", "r/a-b", "r/b", "r/c/d/e", "rx/f", "r/z"):
        bucket.put_object(key, b"")
    listed = [info.key for info in iterator(bucket, prefix="r/", delimiter="/", max_keys=2)]
    assert listed == ["r/a-b", "r/a/", "r/b", "r/c/", "r/z"]
    flat = [info.key for info in iterator(bucket, prefix="r/a", max_keys=1)]
    assert flat == ["r/a-b", "r/a/1", "r/a/2"]


def test_batch_delete_removes_the_keys_it_names(oss_server: OSSServer, bucket: oss2.Bucket) -> None:
    for key in ("a", "b", "c"):
        bucket.put_object(key, b"x")
    result = bucket.batch_delete_objects(["a", "b", "never-existed"])
    assert sorted(result.deleted_keys) == ["a", "b", "never-existed"]
    assert oss_server.keys(bucket.bucket_name) == ["c"]


def test_multipart_upload_lists_its_parts_and_completes(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("big").upload_id
    data = [b"a" * 100 * KiB, b"b" * 100 * KiB, b"tail"]
    parts = []
    for number, piece in enumerate(data, 1):
        result = bucket.upload_part("big", upload_id, number, piece)
        parts.append(PartInfo(number, result.etag, len(piece), part_crc=result.crc))
    listed = bucket.list_parts("big", upload_id, max_parts=2)
    assert [p.part_number for p in listed.parts] == [1, 2] and listed.is_truncated
    assert [u.key for u in oss2.MultipartUploadIterator(bucket)] == ["big"]
    bucket.complete_multipart_upload("big", upload_id, parts)  # oss2 checks the CRC-64
    assert bucket.get_object("big").read() == b"".join(data)
    assert list(oss2.MultipartUploadIterator(bucket)) == []


def test_multipart_upload_refuses_small_parts_bad_order_and_unknown_parts(
    bucket: oss2.Bucket,
) -> None:
    upload_id = bucket.init_multipart_upload("key").upload_id
    small = [bucket.upload_part("key", upload_id, n, b"tiny").etag for n in (1, 2)]
    errors = {}
    for name, parts in {
        "EntityTooSmall": [PartInfo(1, small[0]), PartInfo(2, small[1])],
        "InvalidPartOrder": [PartInfo(2, small[1]), PartInfo(2, small[1])],
        "InvalidPart": [PartInfo(1, "0" * 32)],
    }.items():
        with pytest.raises(ServerError) as caught:
            bucket.complete_multipart_upload("key", upload_id, parts)
        errors[name] = caught.value.code
    assert errors == {name: name for name in errors}
    bucket.abort_multipart_upload("key", upload_id)
    with pytest.raises(NoSuchUpload):
        bucket.list_parts("key", upload_id)


def test_copies_whole_objects_and_ranges_into_parts(bucket: oss2.Bucket) -> None:
    source = bytes(range(256)) * 800  # 200 KiB
    bucket.put_object("src", source)
    bucket.copy_object(bucket.bucket_name, "src", "copy")
    assert bucket.get_object("copy").read() == source
    upload_id = bucket.init_multipart_upload("assembled").upload_id
    first = bucket.upload_part_copy(
        bucket.bucket_name, "src", (0, 102399), "assembled", upload_id, 1
    )
    second = bucket.upload_part_copy(
        bucket.bucket_name, "src", (102400, None), "assembled", upload_id, 2
    )
    bucket.complete_multipart_upload(
        "assembled", upload_id, [PartInfo(1, first.etag), PartInfo(2, second.etag)]
    )
    assert bucket.get_object("assembled").read() == source
    with pytest.raises(NoSuchKey):
        bucket.copy_object(bucket.bucket_name, "missing", "copy")


def test_an_unknown_access_key_is_refused(oss_server: OSSServer, bucket: oss2.Bucket) -> None:
    stranger = oss2.Bucket(oss2.Auth("stranger", "secret"), oss_server.endpoint, bucket.bucket_name)
    with pytest.raises(ServerError) as caught:
        stranger.get_object("key")
    assert (caught.value.status, caught.value.code) == (403, "InvalidAccessKeyId")
    assert not isinstance(caught.value, AccessDenied)
