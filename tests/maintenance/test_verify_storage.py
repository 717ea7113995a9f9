"""The storage scrub as a plain function over a real filesystem tree: what it reports, what
it quarantines, `since`, and the races with writers that replace a blob meanwhile."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.cluster.leases import LeaseBusy, LeaseMode
from registry.maintenance import verify_storage as scrub
from registry.maintenance.backup.snapshot import capture
from registry.maintenance.migrate import MigrationStats, copy_metadata
from registry.maintenance.progress import TaskCancelled
from registry.maintenance.quarantine import list_quarantine
from registry.maintenance.verify_result import VerifyResult
from registry.maintenance.verify_storage import (
    CorruptionFound,
    raise_if_corrupt,
    verify_storage,
)
from registry.storage import StorageDriver, StorageError
from registry.storage.base import CheckedDriver
from registry.tasks.params import VerifyStorageParams
from tests.maintenance.backup_support import LeaseLog, Recorder
from tests.maintenance.trees import Tree
from tests.maintenance.trees import collect as gc


@pytest.fixture()
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "storage")


def run(
    tree: Tree, driver: StorageDriver | None = None, lease: LeaseLog | None = None, **params: object
) -> VerifyResult:
    recorder = Recorder()
    return verify_storage(
        driver or tree.driver,
        VerifyStorageParams.model_validate(params),
        recorder.progress(),
        lease or LeaseLog(),
    )


def corrupt(tree: Tree, digest: str, data: bytes | None = None) -> bytes:
    """Write other bytes (by default: the same length, one bit flipped) into the blob's data."""
    path = tree.local(layout.blob_data(digest))
    genuine = path.read_bytes()
    if data is None:
        data = bytes([genuine[0] ^ 1]) + genuine[1:]
    path.write_bytes(data)
    return genuine


def test_a_clean_store_is_reported_clean_after_reading_every_byte(tree: Tree) -> None:
    image = tree.image("team/app", "v1", layers=3)
    size = sum(tree.local(layout.blob_data(d)).stat().st_size for d in image.blobs)

    result = run(tree)

    assert result.outcome == "clean" and result.mismatches == []
    assert (result.blobs_checked, result.bytes_read) == (len(image.blobs), size)
    raise_if_corrupt(result)  # nothing to fail about


def test_a_corrupt_layer_is_reported_with_its_users_and_expected_size(tree: Tree) -> None:
    shared = tree.blob(b"shared layer")
    tree.image("team/app", "v1", shared=(shared,))
    tree.image("team/api", "v1", shared=(shared,))
    tree.image("other", "v1")
    corrupt(tree, shared, b"other bytes!!")

    result = run(tree)

    [bad] = result.mismatches
    assert bad.digest == shared and bad.path == layout.blob_data(shared)
    assert bad.actual_digest is not None and bad.actual_digest != shared
    assert (bad.stored_size, bad.actual_size) == (13, 13)
    assert bad.expected_size == 1  # what the test trees' descriptors say
    assert bad.repositories == ["team/api", "team/app"] and bad.manifest_in == []
    assert bad.state == "corrupt" and result.outcome == "corrupt"
    assert tree.local(layout.blob_data(shared)).read_bytes() == b"other bytes!!"  # untouched
    with pytest.raises(CorruptionFound, match=f"{shared} at .*verify-storage --repair") as failed:
        raise_if_corrupt(result)
    assert failed.value.result["mismatches"][0]["digest"] == shared
    assert failed.value.result["corrupt_left"] == 1


def test_a_corrupt_manifest_is_named_as_a_manifest_of_its_repository(tree: Tree) -> None:
    image = tree.image("team/app", "v1")
    corrupt(tree, image.manifest)

    [bad] = run(tree).mismatches

    assert bad.digest == image.manifest
    assert bad.manifest_in == ["team/app"] and bad.repositories == ["team/app"]


def test_repair_quarantines_the_bad_data_with_a_note_and_gc_then_succeeds(tree: Tree) -> None:
    image = tree.image("team/app", "v1")
    layer = image.layers[0]
    corrupt(tree, layer, b"rotten")
    lease = LeaseLog()

    result = run(tree, lease=lease, repair=True)

    [bad] = result.mismatches
    assert bad.state == "quarantined" and result.outcome == "repaired"
    assert lease.events == ["take shared", "end shared"]
    assert not tree.has_blob(layer)
    assert bad.quarantined_to is not None
    assert bad.quarantined_to.startswith(f"/hth/v1/quarantine/sha256/{layer[7:]}/")
    assert tree.local(bad.quarantined_to).read_bytes() == b"rotten"
    note = json.loads(tree.local(bad.quarantined_to + ".json").read_bytes())
    assert note["digest"] == layer and note["from"] == layout.blob_data(layer)
    assert note["actual_digest"] == bad.actual_digest and note["size"] == 6
    assert [n["path"] for n in list_quarantine(tree.driver)] == [bad.quarantined_to]
    raise_if_corrupt(result)  # everything bad is out of the way: the task succeeds

    gc(tree, delete_untagged=True)  # GC sees a missing blob: no error, quarantine untouched
    assert tree.local(bad.quarantined_to).read_bytes() == b"rotten"
    assert run(tree).outcome == "clean"


def test_since_checks_only_blobs_written_from_then_on(tree: Tree) -> None:
    old = tree.image("team/app", "v1")
    tree.age_all(timedelta(days=3))
    new = tree.image("team/app", "v2")
    corrupt(tree, old.layers[0])
    tree.age_path(layout.blob_data(old.layers[0]), timedelta(days=3))

    recent = run(tree, since=(datetime.now(UTC) - timedelta(days=1)).date().isoformat())
    relative = run(tree, since="36h")
    everything = run(tree)

    for result in (recent, relative):
        assert result.outcome == "clean" and result.blobs_checked == len(new.blobs)
        assert result.blobs_older == len(old.blobs)
    assert [m.digest for m in everything.mismatches] == [old.layers[0]]


def test_since_takes_a_date_a_datetime_or_a_duration_back_from_the_run() -> None:
    now = datetime(2025, 3, 10, 6, tzinfo=UTC)

    def cutoff(text: str) -> datetime | None:
        return VerifyStorageParams.model_validate({"since": text}).cutoff(now)

    assert cutoff("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)  # midnight UTC
    assert cutoff("2025-03-01T12:00:00+02:00") == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert cutoff("2025-03-01T12:00") == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert cutoff("8d") == datetime(2025, 3, 2, 6, tzinfo=UTC)
    relative = VerifyStorageParams.model_validate({"since": "8d"})  # relative in a schedule too
    assert relative.since == timedelta(days=8)
    assert relative.model_dump(mode="json")["since"] == "192h"
    fixed = VerifyStorageParams.model_validate({"since": "2025-03-01T12:00:00+02:00"})
    assert fixed.model_dump(mode="json")["since"] == "2025-03-01T10:00:00+00:00"
    with pytest.raises(ValueError, match="since"):
        VerifyStorageParams.model_validate({"since": "yesterday"})


def test_files_that_name_no_checkable_blob_are_listed_not_reported_as_corrupt(tree: Tree) -> None:
    tree.image("team/app", "v1")
    tree.local(f"{layout.BLOBS}/sha256/zz/not-a-digest/data").parent.mkdir(parents=True)
    tree.local(f"{layout.BLOBS}/sha256/zz/not-a-digest/data").write_bytes(b"?")

    result = run(tree)

    assert result.outcome == "clean"
    assert result.not_checked == [f"{layout.BLOBS}/sha256/zz/not-a-digest/data"]


def test_the_rate_limit_holds_the_reads_to_it(tree: Tree) -> None:
    for _ in range(4):
        tree.blob(os.urandom(500_000))

    result = run(tree, rate_limit=1.0)  # 2 MB at 1 MB/s, after a quarter second's burst

    assert result.bytes_read == 2_000_000 and result.seconds >= 1.5


def test_a_cancel_stops_the_scrub_between_pieces(tree: Tree) -> None:
    for _ in range(20):
        tree.blob(os.urandom(300_000))
    recorder = Recorder(cancel_after=3)

    with pytest.raises(TaskCancelled):
        verify_storage(
            tree.driver, VerifyStorageParams(rate_limit=2.0), recorder.progress(), LeaseLog()
        )


# --- writers racing with the quarantine ------------------------------------------------------


def test_a_blob_made_whole_by_a_push_before_the_repair_is_left_in_place(tree: Tree) -> None:
    image = tree.image("team/app", "v1")
    layer = image.layers[0]
    genuine = corrupt(tree, layer)

    @contextmanager
    def push_lands_first(mode: LeaseMode) -> Iterator[None]:
        tree.local(layout.blob_data(layer)).write_bytes(genuine)  # a re-push replaced it
        yield

    result = verify_storage(
        tree.driver, VerifyStorageParams(repair=True), Recorder().progress(), push_lands_first
    )

    assert [m.state for m in result.mismatches] == ["healed"]
    assert tree.local(layout.blob_data(layer)).read_bytes() == genuine
    assert list_quarantine(tree.driver) == [] and result.outcome == "repaired"


class PushDuringMove(CheckedDriver):
    """The real driver, with a push of the genuine bytes landing right before (or right
    after) the scrub's move: the interleaving no real timing reproduces on cue."""

    def __init__(self, inner: StorageDriver, genuine: bytes, after: bool) -> None:
        super().__init__(inner)
        self.genuine, self.after = genuine, after

    def move(self, source: str, dest: str) -> None:
        if not self.after:
            self.inner.put_content(source, self.genuine)
        self.inner.move(source, dest)
        if self.after and dest.startswith(layout.QUARANTINE):
            self.inner.put_content(source, self.genuine)


def test_a_genuine_copy_landing_just_before_the_move_goes_back_not_to_quarantine(
    tree: Tree,
) -> None:
    layer = tree.image("team/app", "v1").layers[0]
    genuine = corrupt(tree, layer)

    result = run(tree, PushDuringMove(tree.driver, genuine, after=False), repair=True)

    assert [m.state for m in result.mismatches] == ["healed"]
    assert tree.local(layout.blob_data(layer)).read_bytes() == genuine
    assert list_quarantine(tree.driver) == []


def test_a_genuine_copy_landing_just_after_the_move_stays_and_the_bad_one_is_quarantined(
    tree: Tree,
) -> None:
    layer = tree.image("team/app", "v1").layers[0]
    genuine = corrupt(tree, layer)

    result = run(tree, PushDuringMove(tree.driver, genuine, after=True), repair=True)

    [bad] = result.mismatches
    assert bad.state == "quarantined" and bad.quarantined_to is not None
    assert tree.local(layout.blob_data(layer)).read_bytes() == genuine
    assert tree.local(bad.quarantined_to).read_bytes() != genuine


class RefusingMoves(CheckedDriver):
    """The real driver, except that the backend refuses moves (no permission): a fault a
    root-run test cannot get from a real filesystem."""

    def move(self, source: str, dest: str) -> None:
        raise StorageError(f"move {source}: permission denied")


def test_a_quarantine_the_storage_refuses_leaves_the_blob_corrupt_and_the_task_failed(
    tree: Tree,
) -> None:
    layer = tree.image("team/app", "v1").layers[0]
    corrupt(tree, layer)

    result = run(tree, RefusingMoves(tree.driver), repair=True)

    [bad] = result.mismatches
    assert bad.state == "corrupt" and bad.repair_error is not None
    assert "permission denied" in bad.repair_error and result.outcome == "corrupt"
    with pytest.raises(CorruptionFound, match=layer):
        raise_if_corrupt(result)


def test_repair_waits_while_another_task_holds_the_storage_lease(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scrub, "LEASE_POLL", 0.01)
    layer = tree.image("team/app", "v1").layers[0]
    corrupt(tree, layer)
    attempts: list[str] = []

    @contextmanager
    def busy_twice(mode: LeaseMode) -> Iterator[None]:
        attempts.append(mode)
        if len(attempts) <= 2:
            raise LeaseBusy("storage", "gc task 1", "readonly")
        assert tree.has_blob(layer)  # nothing moved while GC held it
        yield

    recorder = Recorder()
    result = verify_storage(
        tree.driver, VerifyStorageParams(repair=True), recorder.progress(), busy_twice
    )

    assert attempts == ["shared"] * 3 and result.outcome == "repaired"
    assert "waiting to quarantine: the storage lease is held by gc task 1" in recorder.text()
    assert "waiting for the storage lease" in [r.phase for r in recorder.reports]


def test_quarantined_data_stays_out_of_backup_metadata_and_migrations(
    tree: Tree, tmp_path: Path
) -> None:
    layer = tree.image("team/app", "v1").layers[0]
    corrupt(tree, layer)
    [bad] = run(tree, repair=True).mismatches
    assert bad.quarantined_to is not None

    captured = capture(tree.driver, Recorder().progress())
    target = Tree(tmp_path / "migrated")
    copy_metadata(tree.driver, target.driver, Recorder().progress(), MigrationStats())

    assert not any(path.startswith(layout.QUARANTINE) for path in captured.files)
    assert target.exists(layout.revision_link("team/app", tree.tagged("team/app").pop()))
    assert not target.exists(bad.quarantined_to) and tree.exists(bad.quarantined_to)
