"""purge_uploads on a real filesystem tree laid out as Distribution's uploads leave it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.config import UploadPurgingSettings
from registry.maintenance.progress import Progress, ProgressState, TaskCancelled
from registry.maintenance.purge_uploads import PurgeOptions, PurgeReport, purge_uploads
from registry.storage import PathNotFoundError, StorageDriver, create_driver
from registry.tasks.params import PurgeUploadsParams

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WEEK_AGO = NOW - timedelta(hours=168)


class Recorder:
    """A ProgressSink that keeps what it was told and can ask for a cancel."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.states: list[ProgressState] = []
        self.lines: list[str] = []
        self.cancel_after = cancel_after

    def report(self, state: ProgressState) -> None:
        self.states.append(state)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def cancel_requested(self) -> bool:
        return self.cancel_after is not None and len(self.states) > self.cancel_after


@pytest.fixture()
def driver(tmp_path: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(tmp_path)})


def add_upload(
    driver: StorageDriver, name: str, started: datetime | str | None, data: bytes = b"x"
) -> str:
    upload_id = str(uuid.uuid4())
    driver.put_content(layout.upload_data(name, upload_id), data)
    driver.put_content(layout.upload_hashstate(name, upload_id, "sha256", 0), b"state")
    if started is not None:
        text = started if isinstance(started, str) else started.strftime("%Y-%m-%dT%H:%M:%SZ")
        driver.put_content(layout.upload_started_at(name, upload_id), text.encode())
    return layout.upload_dir(name, upload_id)


def exists(driver: StorageDriver, path: str) -> bool:
    try:
        driver.stat(path)
    except PathNotFoundError:
        return False
    return True


def run(driver: StorageDriver, dry_run: bool = False, sink: Recorder | None = None) -> PurgeReport:
    progress = Progress(sink or Recorder(), min_interval=0)
    return purge_uploads(driver, PurgeOptions(older_than=WEEK_AGO, dry_run=dry_run), progress)


def test_uploads_older_than_the_age_are_removed_and_younger_ones_kept(
    driver: StorageDriver,
) -> None:
    old = add_upload(driver, "team/app", NOW - timedelta(hours=200))
    young = add_upload(driver, "team/app", NOW - timedelta(hours=1))
    report = run(driver)
    assert report.purged == [old]
    assert not exists(driver, old)
    assert exists(driver, young)
    assert report.scanned == 2 and report.errors == []


def test_nested_repository_names_are_searched(driver: StorageDriver) -> None:
    deep = add_upload(driver, "a/b/c/d", NOW - timedelta(days=30))
    top = add_upload(driver, "a", NOW - timedelta(days=30))
    assert sorted(run(driver).purged) == sorted([deep, top])


def test_a_dry_run_deletes_nothing_but_reports_what_it_would(driver: StorageDriver) -> None:
    old = add_upload(driver, "team/app", NOW - timedelta(days=30))
    sink = Recorder()
    report = run(driver, dry_run=True, sink=sink)
    assert report.purged == [old] and report.dry_run
    assert exists(driver, old)
    assert f"would delete {old}" in sink.lines


def test_uploads_without_startedat_are_kept_like_distribution_does(driver: StorageDriver) -> None:
    unknown = add_upload(driver, "team/app", None)
    report = run(driver)
    assert report.purged == [] and report.scanned == 1
    assert exists(driver, unknown)


def test_an_unreadable_startedat_is_reported_and_kept(driver: StorageDriver) -> None:
    bad = add_upload(driver, "team/app", "yesterday")
    report = run(driver)
    assert exists(driver, bad)
    assert len(report.errors) == 1 and "not an RFC 3339 time" in report.errors[0]


def test_rfc3339_offsets_and_fractions_are_understood(driver: StorageDriver) -> None:
    old = add_upload(driver, "team/app", "2025-02-01T10:00:00.123456+02:00")
    assert run(driver).purged == [old]


def test_layers_manifests_and_blobs_are_never_touched(driver: StorageDriver) -> None:
    link = layout.layer_link("team/app", "sha256:" + "a" * 64)
    driver.put_content(link, b"sha256:" + b"a" * 64)
    driver.put_content(layout.blob_data("sha256:" + "a" * 64), b"blob")
    add_upload(driver, "team/app", NOW - timedelta(days=30))
    run(driver)
    assert driver.get_content(link) == b"sha256:" + b"a" * 64
    assert driver.get_content(layout.blob_data("sha256:" + "a" * 64)) == b"blob"


def test_an_empty_registry_purges_nothing(driver: StorageDriver) -> None:
    report = run(driver)
    assert (report.scanned, report.purged, report.errors) == (0, [], [])


def test_progress_reports_the_purge_phase_to_completion(driver: StorageDriver) -> None:
    for _ in range(3):
        add_upload(driver, "team/app", NOW - timedelta(days=30))
    sink = Recorder()
    run(driver, sink=sink)
    assert sink.states[-1] == ProgressState("purge", 3, 3)
    assert any(state.phase == "scan" for state in sink.states)


def test_a_cancel_stops_between_deletions(driver: StorageDriver) -> None:
    paths = [add_upload(driver, "team/app", NOW - timedelta(days=30)) for _ in range(5)]
    sink = Recorder(cancel_after=3)  # scan, purge 0/5, purge 1/5: then stop
    with pytest.raises(TaskCancelled):
        run(driver, sink=sink)
    remaining = [path for path in paths if exists(driver, path)]
    assert 0 < len(remaining) < 5
    for path in remaining:  # whatever is left is a whole upload, not half of one
        assert driver.get_content(f"{path}/data") == b"x"


def test_options_default_to_the_configured_age_and_dry_run() -> None:
    defaults = UploadPurgingSettings(age="2h", dryrun=True)
    options = PurgeOptions.from_params(PurgeUploadsParams(), defaults, NOW)
    assert options == PurgeOptions(older_than=NOW - timedelta(hours=2), dry_run=True)
    override = PurgeOptions.from_params(PurgeUploadsParams(age="30m", dry_run=False), defaults, NOW)
    assert override == PurgeOptions(older_than=NOW - timedelta(minutes=30), dry_run=False)


def test_params_refuse_bad_ages_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        PurgeUploadsParams(age="a week")
    with pytest.raises(ValueError, match="Extra inputs"):
        PurgeUploadsParams.model_validate({"older_than": "1h"})
