"""The round trip with a real client: images pushed with skopeo, backed up, changed, restored,
and pulled again byte-identical (same digests); what was pushed after the backup is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.cluster.leases import no_lease
from registry.maintenance.backup.export import export_backup
from registry.maintenance.backup.restore import restore_from_archive, restore_from_store
from registry.maintenance.backup.store import BackupStore
from testbed.processes import RegistryProcess
from tests.maintenance.backup_support import Recorder, backup
from tests.support.clients import ClientError, Skopeo
from tests.support.images import OciLayout, read_dir_copy

pytestmark = pytest.mark.e2e


def pull(skopeo: Skopeo, ref: str, into: Path, *extra: str) -> tuple[str, set[str]]:
    """The pulled manifest's digest and the digests of every blob that came with it."""
    skopeo.copy(ref, f"dir:{into}", *extra)
    pulled = read_dir_copy(into)  # re-hashes every file against its name
    return pulled.digest, set(pulled.blobs) | set(pulled.children)


def test_images_pull_byte_identical_after_a_restore(tmp_path: Path) -> None:
    source = OciLayout(tmp_path / "source")
    single = source.write_image("single", [1_000, 64 * 1024, 1024 * 1024], seed=7)
    multi = source.write_index("multi", [("linux", "amd64"), ("linux", "arm64")], [2_000], seed=8)
    later = source.write_image("later", [3_000], seed=9)
    skopeo = Skopeo(tmp_path / "skopeo")
    server = RegistryProcess(tmp_path / "registry").start()
    store = BackupStore(tmp_path / "backups")
    try:
        repo = f"docker://{server.host}/round/trip"
        skopeo.copy(f"oci:{source.path}:single", f"{repo}:single")
        skopeo.copy(f"oci:{source.path}:multi", f"{repo}:multi", "--all")
        before = {
            "single": pull(skopeo, f"{repo}:single", tmp_path / "before-single"),
            "multi": pull(skopeo, f"{repo}:multi", tmp_path / "before-multi", "--all"),
        }
        assert before["single"][0] == single.manifest.digest
        assert before["multi"][0] == multi.index.digest
        backup_id = backup(server.storage_root, store).backup_id

        skopeo.delete(f"{repo}:single")
        skopeo.copy(f"oci:{source.path}:later", f"{repo}:later")
        restore_from_store(store, backup_id, server.storage_root, no_lease, Recorder().progress())

        after = {
            "single": pull(skopeo, f"{repo}:single", tmp_path / "after-single"),
            "multi": pull(skopeo, f"{repo}:multi", tmp_path / "after-multi", "--all"),
        }
        assert after == before
        with pytest.raises(ClientError, match="manifest unknown"):
            skopeo.inspect_raw(f"{repo}:later")
        assert later.manifest.digest not in {d for _, blobs in after.values() for d in blobs}

        # The same from an exported archive, into a registry on another root.
        archive = tmp_path / "off-site.tar.zst"
        export_backup(store, backup_id, archive, Recorder().progress())
        other_root = tmp_path / "other" / "storage"
        other_root.parent.mkdir()
        restore_from_archive(archive, other_root, no_lease, Recorder().progress())
        config = {"docker_registry": {"storage_settings": {"rootdirectory": str(other_root)}}}
        other = RegistryProcess(tmp_path / "other-registry", config).start()
        try:
            elsewhere = f"docker://{other.host}/round/trip"
            assert pull(skopeo, f"{elsewhere}:single", tmp_path / "x-single") == before["single"]
            multi_ref = f"{elsewhere}:multi"
            assert pull(skopeo, multi_ref, tmp_path / "x-multi", "--all") == before["multi"]
        finally:
            other.stop()
    finally:
        server.stop()
