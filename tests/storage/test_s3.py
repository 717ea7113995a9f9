"""The S3 driver beyond the shared suite: real signatures (rclone), multipart state. Its
faults (wrong secret, redirects off, outages) are in the suite: test_driver_faults.py."""

from __future__ import annotations

import os

import httpx
import pytest

from registry.storage import StorageDriver, create_driver
from registry.storage.s3 import bucket as s3_bucket
from registry.storage.s3 import driver as s3_driver
from testbed.emulators import MotoS3, RcloneS3

MiB = 1024 * 1024


@pytest.fixture()
def rclone_driver(rclone_s3: RcloneS3) -> StorageDriver:
    return create_driver("s3", rclone_s3.settings(rclone_s3.new_bucket()))


def test_signed_requests_and_presigned_urls_pass_a_signature_checking_server(
    rclone_driver: StorageDriver,
) -> None:
    rclone_driver.put_content("/repo/blob/data", b"signed")
    with rclone_driver.writer("/repo/upload") as writer:
        writer.write(os.urandom(6 * MiB))
        writer.commit()
    assert rclone_driver.get_content("/repo/blob/data") == b"signed"
    assert rclone_driver.list("/repo") == ["/repo/blob", "/repo/upload"]
    url = rclone_driver.redirect_url("/repo/blob/data")
    assert url is not None and "X-Amz-Signature=" in url
    assert httpx.get(url).content == b"signed"
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(forged).status_code == 403
    rclone_driver.delete("/repo")
    assert list(rclone_driver.walk("/")) == []


def test_close_without_commit_keeps_the_multipart_upload_open(moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    driver = create_driver("s3", moto_s3.settings(bucket))
    client = moto_s3.client()
    with driver.writer("/upload/data") as writer:
        writer.write(os.urandom(5 * MiB + 100))
    uploads = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["Key"] for u in uploads] == ["upload/data"]
    parts = client.list_parts(Bucket=bucket, Key="upload/data", UploadId=uploads[0]["UploadId"])
    assert [p["Size"] for p in parts["Parts"]] == [5 * MiB, 100]
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    with driver.writer("/upload/data", append=True) as writer:
        writer.commit()
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket)
    driver.delete("/upload")


def test_new_writer_aborts_a_stale_upload_of_the_same_key(moto_s3: MotoS3) -> None:
    bucket = moto_s3.new_bucket()
    driver = create_driver("s3", moto_s3.settings(bucket))
    with driver.writer("/upload/data") as writer:
        writer.write(b"abandoned")
    with driver.writer("/upload/data") as writer:
        writer.write(b"fresh")
    with driver.writer("/upload/data", append=True) as writer:
        assert writer.size == 5
        writer.commit()
    assert driver.get_content("/upload/data") == b"fresh"
    driver.delete("/upload")
    assert "Uploads" not in moto_s3.client().list_multipart_uploads(Bucket=bucket)


def test_move_of_an_object_above_the_copy_limit_goes_part_by_part(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_driver, "MAX_COPY", 6 * MiB)
    monkeypatch.setattr(s3_bucket, "COPY_PART", 10 * MiB)
    driver = create_driver("s3", moto_s3.settings(moto_s3.new_bucket()))
    data = os.urandom(11 * MiB)
    driver.put_content("/src", data)
    driver.move("/src", "/dest")
    assert driver.get_content("/dest") == data
    assert driver.list("/") == ["/dest"]
    driver.delete("/dest")
