"""`hth-ctl verify-storage` against `hth-ctl up` (embedded default): the exit code says
whether corruption is left in place."""

from __future__ import annotations

import re

import pytest

from registry import layout
from testbed.task_platform import UpPlatform
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration


def test_verify_storage_exits_1_on_corruption_and_0_once_repair_quarantined_it(
    up_platform: UpPlatform,
) -> None:
    tree = Tree(up_platform.workdir / "var" / "storage" / "docker_registry")
    layer = tree.image("cli/scrub", "v1").layers[0]
    tree.local(layout.blob_data(layer)).write_bytes(b"not the layer")

    found = up_platform.hth_ctl("verify-storage", timeout=180)
    assert found.returncode == 1, found.stderr
    assert re.search(
        rf"^corrupt: {layer} \(cli/scrub\): content hashes to sha256:", found.stdout, re.M
    )
    assert re.search(
        r"^corrupt: \d+ blobs checked, .* 1 bad, 0 quarantined, 1 left", found.stdout, re.M
    )
    assert "CorruptionFound: 1 corrupt blobs left in place" in found.stderr
    assert "hth-ctl verify-storage --repair" in found.stderr

    repaired = up_platform.hth_ctl("verify-storage", "--repair", "--rate-limit", "100", timeout=180)
    assert repaired.returncode == 0, repaired.stderr
    assert re.search(
        rf"^quarantined: {layer} .* -> /hth/v1/quarantine/sha256/", repaired.stdout, re.M
    )
    assert re.search(r"^repaired: .* 1 quarantined, 0 left in place$", repaired.stdout, re.M)
    assert not tree.has_blob(layer)


def test_verify_storage_no_wait_prints_the_task_id(up_platform: UpPlatform) -> None:
    started = up_platform.hth_ctl("verify-storage", "--no-wait", "--since", "2020-01-01")
    assert started.returncode == 0, started.stderr
    task_id = started.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id)
    assert up_platform.hth_ctl("tasks", "wait", task_id, timeout=180).returncode == 0


def test_verify_storage_refuses_bad_options_with_one_line(up_platform: UpPlatform) -> None:
    since = up_platform.hth_ctl("verify-storage", "--since", "yesterday")
    assert since.returncode == 1 and "params.since" in since.stderr
    rate = up_platform.hth_ctl("verify-storage", "--rate-limit", "0")
    assert rate.returncode == 2 and "--rate-limit" in rate.stderr
