"""`hth-ctl retention` against `hth-ctl up` (embedded default): add, list, show, set,
run --dry-run (a readable summary; nothing changes), run --json, delete; errors on stderr."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from registry import layout
from testbed.task_platform import UpPlatform
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration


def tags(tree: Tree, repository: str) -> list[str]:
    return sorted(p.rpartition("/")[2] for p in tree.driver.list(layout.tags_root(repository)))


def test_retention_commands(up_platform: UpPlatform) -> None:
    tree = Tree(up_platform.workdir / "var" / "storage" / "docker_registry")
    for tag, days in (("v1.0.0", 90), ("ci-1", 30), ("ci-2", 20), ("ci-3", 0)):
        tree.image("clirtn/app", tag, layers=1)
        tree.age_path(layout.tag_current_link("clirtn/app", tag), timedelta(days=days))
    ctl = up_platform.hth_ctl

    added = ctl("retention", "add", "ci", "--repositories", "clirtn/**", "--keep-last", "1",
                "--keep-tags", r"^v\d+", "--cron", "0 2 * * *")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "keeps: last 1 or tags /^v\\d+/" in added.stdout
    listed = ctl("retention", "list")
    assert listed.stdout.splitlines()[0].split()[:3] == ["NAME", "REPOSITORIES", "KEEPS"]
    assert listed.stdout.splitlines()[1].split()[:2] == ["ci", "clirtn/**"]
    changed = ctl("retention", "set", "ci", "--keep-within", "25d", "--no-gc-after", "--json")
    assert changed.returncode == 0, changed.stderr
    policy = json.loads(changed.stdout)
    assert (policy["keep_last"], policy["keep_within"], policy["cron"]) == (1, "25d", "0 2 * * *")
    shown = json.loads(ctl("retention", "show", "ci", "--json").stdout)
    assert shown == policy

    dry = ctl("retention", "run", "ci", "--dry-run", timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 tag and" in dry.stdout and "clirtn/app: tags ci-1" in dry.stdout
    assert tags(tree, "clirtn/app") == ["ci-1", "ci-2", "ci-3", "v1.0.0"]
    real = ctl("retention", "run", "ci", "--json", timeout=120)
    assert real.returncode == 0, real.stderr
    result = json.loads(real.stdout)
    assert result["deleted"] == {"clirtn/app": {"tags": ["ci-1"], "manifests": []}}
    assert tags(tree, "clirtn/app") == ["ci-2", "ci-3", "v1.0.0"]

    refused = ctl("retention", "add", "all", "--repositories", "clirtn/**")
    assert refused.returncode != 0 and "confirm_delete_all" in refused.stderr
    assert ctl("retention", "delete", "ci").returncode == 0
    missing = ctl("retention", "show", "ci")
    assert missing.returncode != 0 and "404" in missing.stderr
