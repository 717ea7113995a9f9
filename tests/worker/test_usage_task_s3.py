"""`usage` run by a real worker on the S3 driver (moto), after pushes over HTTP to a real
registry on the same bucket: the sizes the test pushed, and no layer fetched from the bucket
while it measured (moto's own request log)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from testbed.cloud_registry import CloudStorage, s3_storage
from testbed.emulators import MotoS3
from testbed.processes import deep_merge
from testbed.pusher import PushedImage, push_image
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
    config = deep_merge(storage.registry_config(), queue)
    platform = TaskPlatform(tmp_path_factory.mktemp("usage-s3"), config=config)
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def manifest_length(http: httpx.Client, image: PushedImage) -> int:
    response = http.head(f"/v2/{image.name}/manifests/{image.manifest_digest}")
    return int(response.headers["Content-Length"])


def test_usage_on_s3_sizes_pushed_images_without_fetching_a_layer(
    platform: TaskPlatform, storage: CloudStorage, moto_s3: MotoS3
) -> None:
    http = platform.api()
    shared = os.urandom(300_000)
    first = push_image(http, "cloud/first", "v1", layer=shared)
    second = push_image(http, "cloud/second", "v2", layer=shared)  # its own config
    manifests = {first.manifest_digest, second.manifest_digest}
    sizes = {image.name: manifest_length(http, image) + sum(map(len, image.blobs.values()))
             for image in (first, second)}  # fmt: skip
    bucket = storage.settings["bucket"]
    _, offset = moto_s3.gets_since(bucket, 0)

    task = platform.wait_finished(platform.enqueue("usage")["id"], timeout=120)

    assert task["state"] == "succeeded", platform.logs()
    fetched, _ = moto_s3.gets_since(bucket, offset)
    blob_gets = {f"sha256:{m[1]}" for p in fetched if (m := re.search(r"/([0-9a-f]{64})/data$", p))}
    assert blob_gets == manifests  # the manifests are read; no layer, no config
    page = http.get("/api/v1/usage").json()
    items = {item["repository"]: item for item in page["items"]}
    for name, size in sizes.items():
        assert items[name]["size_bytes"] == size
        assert items[name]["unique_bytes"] == size - len(shared)
    assert page["total_bytes"] == sum(sizes.values()) - len(shared)
