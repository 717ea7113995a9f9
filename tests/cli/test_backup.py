"""`hth-ctl backup ...` and `hth-ctl restore ...` against `hth-ctl up` (embedded default)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry import layout
from registry.maintenance.backup.store import BackupStore
from testbed.task_platform import UpPlatform
from tests.maintenance.backup_support import metadata_and_blobs
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration


def tree_of(up: UpPlatform) -> Tree:
    return Tree(up.workdir / "var" / "storage" / "docker_registry")


def backup_id_of(output: str) -> str:
    match = re.match(r"backup (\S+): ", output)
    assert match, output
    return match.group(1)


def test_backup_list_verify_export_and_restore(up_platform: UpPlatform, tmp_path: Path) -> None:
    tree = tree_of(up_platform)
    image = tree.image("cli/app", "v1", layers=2)
    made = up_platform.hth_ctl("backup", timeout=120)
    assert made.returncode == 0, made.stderr
    made_line, pruned_line = made.stdout.splitlines()
    assert re.search(r"copied [1-9]\d* new blobs .*; verified$", made_line)
    assert re.search(r"; \d+ blobs \(.*\) already backed up, not copied again; ", made_line)
    assert re.fullmatch(
        r"prune: deleted \d+ backups, \d+ blobs \(.*\); "
        r"kept \d+: the newest 7 \(docker_registry.backups.keep\)",
        pruned_line,
    )
    assert re.match(r"task \S+ \(backup\)", made.stderr)
    backup_id = backup_id_of(made.stdout)
    expected = metadata_and_blobs(tree.root)

    listing = up_platform.hth_ctl("backup", "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "CREATED", "REPOS", "BLOBS", "SIZE", "NEW", "VERIFIED"]
    assert any(line.startswith(backup_id) and line.endswith("verified") for line in listing)

    assert up_platform.hth_ctl("backup", "verify", backup_id, timeout=120).returncode == 0
    archive = tmp_path / "cli.tar.zst"
    exported = up_platform.hth_ctl("backup", "export", backup_id, str(archive), timeout=120)
    assert exported.returncode == 0 and archive.is_file(), exported.stderr

    tree.untag("cli/app", "v1")
    refused = up_platform.hth_ctl("restore", backup_id)  # asks, and stdin says nothing
    assert refused.returncode != 0 and tree.tagged("cli/app") == set()
    restored = up_platform.hth_ctl("restore", str(archive), "--yes", timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith(f"restored backup {backup_id}:")
    assert metadata_and_blobs(tree.root) == expected
    assert tree.tagged("cli/app") == {image.manifest}


def test_verify_of_a_corrupt_backup_exits_1_naming_the_blob(up_platform: UpPlatform) -> None:
    image = tree_of(up_platform).image("cli/corrupt", "v1")
    made = up_platform.hth_ctl("backup", "--no-verify", timeout=120)
    assert made.returncode == 0, made.stderr
    backup_id = backup_id_of(made.stdout)
    damaged = BackupStore(up_platform.workdir / "backups").blob_path(image.config)
    content = damaged.read_bytes()
    damaged.write_bytes(b"#" + content[1:])
    try:
        checked = up_platform.hth_ctl("backup", "verify", backup_id, timeout=120)
        assert checked.returncode == 1
        line = f"corrupt: {damaged} ({image.config}; cli/corrupt): content hashes to"
        assert line in checked.stdout
        error = rf"task \S+ failed: BackupCorrupt: backup {re.escape(backup_id)} is corrupt: "
        assert re.search(error + r"1 of \d+ blobs bad: ", checked.stderr)
        listing = up_platform.hth_ctl("backup", "list").stdout
        assert re.search(rf"^{re.escape(backup_id)} .* corrupt \(1 problems\)$", listing, re.M)
    finally:
        damaged.write_bytes(content)


def test_a_backup_of_a_corrupt_registry_exits_1_naming_the_blob_and_its_repository(
    up_platform: UpPlatform,
) -> None:
    tree = tree_of(up_platform)
    image = tree.image("cli/rotten", "v1")
    live = tree.local(layout.blob_data(image.layers[0]))
    content = live.read_bytes()
    live.write_bytes(b"#" + content[1:])
    try:
        made = up_platform.hth_ctl("backup", timeout=120)
    finally:
        live.write_bytes(content)
    assert made.returncode == 1, made.stdout
    assert f"({image.layers[0]}; cli/rotten): content hashes to" in made.stdout
    assert re.search(
        r"failed: BackupCorrupt: backup \S+ is corrupt: 1 of \d+ blobs bad: ", made.stderr
    )
    assert "Traceback" not in made.stderr
    assert up_platform.hth_ctl("backup", timeout=120).returncode == 0  # copied again, sound


def test_an_unknown_backup_fails_with_one_line(up_platform: UpPlatform) -> None:
    result = up_platform.hth_ctl("backup", "verify", "20000101T000000.000Z-000000", timeout=120)
    assert result.returncode == 1
    assert "not found" in result.stderr and "Traceback" not in result.stderr
