"""`hth-ctl usage` against `hth-ctl up` (embedded default): --refresh measures with a
task, the table lists the largest repositories with the run's age, --json is the API's,
--namespaces lists namespaces."""

from __future__ import annotations

import json
import re

import pytest

from testbed.task_platform import UpPlatform
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration


def test_usage_refresh_then_table_and_json(up_platform: UpPlatform) -> None:
    tree = Tree(up_platform.workdir / "var" / "storage" / "docker_registry")
    shared = tree.blob(b"shared layer " * 100)
    tree.image("cliusage/first", "v1", shared=(shared,))
    tree.image("cliusage/second", "v1", layers=3, shared=(shared,))

    refreshed = up_platform.hth_ctl("usage", "--refresh", "--namespace", "cliusage", timeout=120)
    assert refreshed.returncode == 0, refreshed.stderr
    assert re.search(r"^task [0-9a-f-]{36} \(usage\)$", refreshed.stderr, re.M)
    lines = refreshed.stdout.splitlines()
    assert re.match(r"computed \S+ \S+ UTC \(\d+s ago\): .* referenced, a garbage", lines[0])
    assert lines[1].split() == ["REPOSITORY", "SIZE", "UNIQUE", "MANIFESTS", "TAGS", "LAST", "PUSH"]
    assert [line.split()[0] for line in lines[2:]] == ["cliusage/second", "cliusage/first"]
    assert lines[2].split()[5:7] == ["1", "1"]  # manifests, tags

    top = up_platform.hth_ctl("usage", "--json", "--top", "1", "--namespace", "cliusage")
    assert top.returncode == 0, top.stderr
    document = json.loads(top.stdout)
    assert [item["repository"] for item in document["items"]] == ["cliusage/second"]
    assert document["next_cursor"] is not None
    assert set(document) == {
        "items", "next_cursor", "total_bytes", "gc_would_free_bytes", "computed_at"
    }  # fmt: skip

    namespaces = up_platform.hth_ctl("usage", "--namespaces", "--top", "1000")
    assert namespaces.returncode == 0, namespaces.stderr
    lines = namespaces.stdout.splitlines()
    assert lines[1].split() == ["NAMESPACE", "SIZE", "UNIQUE", "REPOSITORIES"]
    cliusage = next(line.split() for line in lines[2:] if line.startswith("cliusage "))
    assert cliusage[-1] == "2"  # its two repositories, the shared layer once
    both = up_platform.hth_ctl("usage", "--namespaces", "--namespace", "cliusage")
    assert both.returncode == 2 and "leave out --namespace" in both.stderr
