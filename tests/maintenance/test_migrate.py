"""registry.maintenance.migrate: copy a registry tree between real drivers (filesystem, moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import layout
from registry.maintenance.migrate import (
    MigrationError,
    MigrationStats,
    migrate_bulk,
    migrate_final,
)
from registry.maintenance.progress import Progress
from registry.storage import StorageDriver, create_driver
from testbed.emulators import MotoS3
from tests.maintenance.trees import Tree, filesystem


def _tree(root: Path) -> Tree:
    tree = Tree(root)
    base = tree.image("library/base", tag="latest", layers=3)
    tree.image("team/app", tag="v1", shared=(base.layers[0],))
    tree.driver.put_content(layout.upload_data("team/app", "u1"), b"half an upload")
    tree.driver.put_content(f"{layout.UPLOAD_PARTS}/t1/000000", b"a part of it")
    return tree


def _files(driver: StorageDriver) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for root in (layout.BLOBS, layout.REPOSITORIES):
        for info in driver.walk(root):
            if not info.is_dir and "/_uploads/" not in info.path:
                found[info.path] = driver.get_content(info.path)
    return found


@pytest.fixture()
def s3_target(moto_s3: MotoS3) -> StorageDriver:
    return create_driver("s3", moto_s3.settings(moto_s3.new_bucket()))


def test_bulk_copy_to_s3_holds_every_blob_and_link_but_no_upload(
    tmp_path: Path, s3_target: StorageDriver
) -> None:
    tree = _tree(tmp_path / "src")
    stats = migrate_bulk(tree.driver, s3_target, Progress())
    assert _files(s3_target) == _files(tree.driver)
    assert stats.blobs_copied == len([p for p in _files(tree.driver) if p.endswith("/data")])
    assert stats.blobs_skipped == 0
    assert "/_uploads" not in " ".join(s3_target.list(layout.repository("team/app")))
    assert not [i.path for i in s3_target.walk("/") if i.path.startswith(layout.UPLOAD_PARTS)]


def test_second_run_skips_what_is_already_there(tmp_path: Path) -> None:
    tree, target = _tree(tmp_path / "src"), filesystem(tmp_path / "dst")
    first = migrate_bulk(tree.driver, target, Progress())
    again = migrate_bulk(tree.driver, target, Progress())
    assert again.blobs_copied == 0 and again.bytes_copied == 0
    assert again.blobs_skipped == first.blobs_copied
    assert again.metadata_copied == 0


def test_a_blob_whose_content_does_not_match_its_digest_stops_the_copy(tmp_path: Path) -> None:
    tree, target = _tree(tmp_path / "src"), filesystem(tmp_path / "dst")
    digest = tree.blob(b"honest content")
    tree.local(layout.blob_data(digest)).write_bytes(b"tampered content")
    with pytest.raises(MigrationError, match="does not match its digest"):
        migrate_bulk(tree.driver, target, Progress())
    with pytest.raises(FileNotFoundError):
        (tmp_path / "dst" / layout.blob_data(digest).lstrip("/")).read_bytes()


def test_final_pass_brings_over_pushes_and_tag_changes_made_meanwhile(tmp_path: Path) -> None:
    tree, target = _tree(tmp_path / "src"), filesystem(tmp_path / "dst")
    stats = migrate_bulk(tree.driver, target, Progress())
    newer = tree.image("team/app", tag="v2")
    tree.untag("library/base", "latest")
    migrate_final(tree.driver, target, Progress(), stats)
    assert _files(target) == _files(tree.driver)
    assert layout.blob_data(newer.manifest) in _files(target)
    assert stats.metadata_deleted >= 1
    assert stats.phases == ["bulk", "final"]


def test_stats_report_throughput(tmp_path: Path) -> None:
    stats = MigrationStats(bytes_copied=10 * 1024 * 1024, seconds=2.0)
    assert stats.as_dict()["mib_per_second"] == 5.0


def test_progress_counts_every_blob(tmp_path: Path) -> None:
    tree, target = _tree(tmp_path / "src"), filesystem(tmp_path / "dst")
    seen: list[tuple[str, int, int | None]] = []

    class Sink:
        def report(self, state: object) -> None:
            seen.append((state.phase, state.done, state.total))  # type: ignore[attr-defined]

        def log(self, line: str) -> None: ...

        def cancel_requested(self) -> bool:
            return False

    migrate_bulk(tree.driver, target, Progress(Sink(), min_interval=0))
    blobs = [s for s in seen if s[0] == "copying blobs"]
    assert blobs[-1][1] == blobs[-1][2] and blobs[-1][1] > 0
