"""`hth-ctl docker-registry-garbage-collect` against `hth-ctl up` (embedded default): what it
frees, and what it keeps and why."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from click.testing import CliRunner

from cli.main import cli
from registry import layout
from testbed.task_platform import UpPlatform
from tests.maintenance.trees import Tree

GC = "docker-registry-garbage-collect"


@pytest.mark.integration
def test_gc_after_a_repository_delete_names_the_blobs_the_grace_period_keeps_and_0_frees_them(
    up_platform: UpPlatform,
) -> None:
    tree = Tree(up_platform.workdir / "var" / "storage" / "docker_registry")
    api = httpx.Client(base_url=up_platform.url, timeout=30)
    # A clean slate, so the figures below are this test's alone: earlier tests' garbage goes.
    # `-p grace_period=0` sends a JSON number, which the task takes as seconds.
    settled = up_platform.hth_ctl("tasks", "start", "gc", "-p", "grace_period=0", "--wait")
    assert settled.returncode == 0, settled.stderr
    task = api.get(f"/api/v1/tasks/{settled.stdout.split()[0]}").json()
    assert (task["params"], task["result"]["grace_period_seconds"]) == ({"grace_period": "0s"}, 0)
    image = tree.image("cli/gc", "v1", layers=2)
    size = sum(tree.driver.stat(layout.blob_data(d)).size for d in image.blobs)
    assert api.delete("/api/v1/repositories/cli/gc").status_code == 202

    kept = up_platform.hth_ctl(GC, timeout=120)  # the default grace period: 1h
    assert kept.returncode == 0, kept.stderr
    summary, *why = kept.stdout.splitlines()
    assert summary.startswith("0 blobs, 1 manifest, 1 repository, 0 uploads: freed 0 bytes")
    assert re.fullmatch(
        rf"kept 4 blobs \({size} bytes\) and 0 manifests younger than the grace period \(1h\): "
        r"collectable from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, or now with --grace-period 0",
        why[0],
    ), why

    as_json = up_platform.hth_ctl(GC, "--grace-period", "3600", "--json", timeout=120)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert (result["grace_period_seconds"], result["blobs_deleted"]) == (3600, 0)
    young = result["kept"]["grace_period"]
    assert (young["blobs"], young["bytes"], young["manifests"]) == (4, size, 0)
    assert young["free_now_with"] == {
        "param": "grace_period",
        "value": 0,
        "flag": "--grace-period 0",
    }
    assert young["collectable_after"] in why[0]

    freed = up_platform.hth_ctl(GC, "--grace-period", "0", timeout=120)
    assert freed.returncode == 0, freed.stderr
    assert freed.stdout.startswith(
        f"4 blobs, 0 manifests, 0 repositories, 0 uploads: freed {size} "
    )
    assert "grace period" not in freed.stdout
    assert not any(tree.has_blob(d) for d in image.blobs)


def test_a_negative_grace_period_is_refused_before_anything_is_sent() -> None:
    refused = CliRunner().invoke(cli, [GC, "--grace-period=-5"])
    assert refused.exit_code == 2
    assert "Invalid value for '--grace-period': a duration must not be negative" in refused.output
