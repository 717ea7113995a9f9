"""The storage scrub through the S3 driver (moto), run by a real worker: a corrupt object is
found, quarantined by a server-side move, and the registry stops redirecting pulls to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from registry import layout
from testbed.cloud_registry import CloudStorage, s3_storage
from testbed.emulators import MotoS3
from testbed.processes import deep_merge
from testbed.pusher import push_image
from testbed.task_platform import RedisNamespace, TaskPlatform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def storage(moto_s3: MotoS3) -> CloudStorage:
    return s3_storage(moto_s3)


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, storage: CloudStorage
) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    queue = {"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}}
    platform = TaskPlatform(
        tmp_path_factory.mktemp("scrub-s3"), config=deep_merge(storage.registry_config(), queue)
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def run(platform: TaskPlatform, **params: Any) -> dict[str, Any]:
    return platform.wait_finished(platform.enqueue("verify_storage", **params)["id"], timeout=180)


def key_of(storage: CloudStorage, path: str) -> str:
    return storage.settings["rootdirectory"].strip("/") + path


def test_a_corrupt_object_is_quarantined_and_no_longer_redirected_to(
    platform: TaskPlatform, storage: CloudStorage, moto_s3: MotoS3
) -> None:
    http, layer = platform.api(), b"s3 layer " * 2000
    image = push_image(http, "scrub/s3", "v1", layer=layer)
    digest = next(d for d, data in image.blobs.items() if data == layer)
    assert http.get(f"/v2/scrub/s3/blobs/{digest}").status_code == 307  # served by S3
    s3, bucket = moto_s3.client(), storage.settings["bucket"]
    s3.put_object(Bucket=bucket, Key=key_of(storage, layout.blob_data(digest)), Body=b"rot")

    found = run(platform)
    assert found["state"] == "failed", platform.logs()
    [bad] = found["result"]["mismatches"]
    assert (bad["digest"], bad["actual_size"], bad["expected_size"]) == (digest, 3, len(layer))
    assert bad["repositories"] == ["scrub/s3"]

    repaired = run(platform, repair=True, rate_limit=50)
    assert repaired["state"] == "succeeded", repaired
    [moved] = repaired["result"]["mismatches"]
    assert moved["state"] == "quarantined"
    quarantined = s3.get_object(Bucket=bucket, Key=key_of(storage, moved["quarantined_to"]))
    assert quarantined["Body"].read() == b"rot"

    answer = http.get(f"/v2/scrub/s3/blobs/{digest}")  # no signed URL to a missing object
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "BLOB_UNKNOWN"

    push_image(http, "scrub/s3", "v1", layer=layer)  # the genuine layer again
    redirect = http.get(f"/v2/scrub/s3/blobs/{digest}")
    assert redirect.status_code == 307
    assert httpx.get(redirect.headers["location"]).content == layer
    assert run(platform)["result"]["outcome"] == "clean"
