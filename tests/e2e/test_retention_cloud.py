"""Retention on a cloud driver (S3 on moto), images pushed with skopeo: push times are the
objects' LastModified, a kept index keeps its children, the deleted tag's manifest goes
with `delete_untagged`, and GC then frees its blobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from registry.maintenance.gc.collect import GCOptions, collect_garbage
from registry.maintenance.retention_compile import compile_policy
from registry.maintenance.retention_run import Retention
from registry.tasks.retention_policy import PolicySpec
from testbed.cloud_registry import CLOUD_STORAGE, CloudStorage
from testbed.processes import RegistryProcess
from tests.support.clients import Skopeo
from tests.support.images import OciLayout

pytestmark = pytest.mark.e2e


def test_retention_on_s3(
    request: pytest.FixtureRequest,
    start_cloud_registry: Callable[[CloudStorage], RegistryProcess],
    skopeo: Skopeo,
    tmp_path: Path,
) -> None:
    storage = CLOUD_STORAGE["s3"](request)
    registry = start_cloud_registry(storage)
    source = OciLayout(tmp_path / "layout")
    multi = source.write_index("v1", [("linux", "amd64"), ("linux", "arm64")], [4096], seed=21)
    old = source.write_image("ci-1", [8192], seed=22)
    new = source.write_image("ci-2", [8192], seed=23)
    for tag in ("v1", "ci-1", "ci-2"):  # in this order: ci-2 is the newest push
        time.sleep(1.1)  # S3's LastModified counts whole seconds: no two pushes in one
        extra = ("--all",) if tag == "v1" else ()
        skopeo.copy(f"oci:{source.path}:{tag}", f"docker://{registry.host}/rtn/app:{tag}", *extra)

    spec = {"name": "s3", "repositories": "rtn/**", "keep_last": 1, "keep_tags": "^v",
            "delete_untagged": True}  # fmt: skip
    policy = compile_policy(PolicySpec.model_validate(spec))
    driver = storage.open_driver()
    dry = Retention(driver, policy, dry_run=True).run().to_dict()
    result = Retention(driver, policy).run().to_dict()
    assert dry["deleted"] == result["deleted"]
    assert result["deleted"] == {"rtn/app": {"tags": ["ci-1"], "manifests": [old.manifest.digest]}}

    def status(reference: str) -> int:
        return httpx.head(
            f"{registry.url}/v2/rtn/app/manifests/{reference}", timeout=30
        ).status_code

    assert status("ci-1") == status(old.manifest.digest) == 404
    for reference in ("v1", "ci-2", new.manifest.digest, *multi.manifest_digests):
        assert status(reference) == 200, reference
    freed = collect_garbage(driver, GCOptions(grace_period=timedelta(0)))
    assert set(freed.deleted_blobs) == old.blob_digests | {old.manifest.digest}
    assert Retention(driver, policy).run().to_dict()["deleted"] == {}
