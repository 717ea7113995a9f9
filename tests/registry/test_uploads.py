"""Uploads in the content layer, on a real filesystem driver in a temporary directory, with
their sessions in a real SQLite database."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry import layout
from registry.cluster.upload_locks import DatabaseUploadSessions
from registry.config import Settings, parse_settings
from registry.content import uploads
from registry.content.links import link_blob, linked_blob_size
from registry.content.upload_sessions import UploadBusy, UploadLockLost
from registry.content.uploads import Upload
from registry.db.database import open_database
from registry.errors import BlobUploadUnknown, DigestInvalid
from registry.hashstate import ResumableSha256
from registry.storage import PathNotFoundError, StorageDriver, create_driver
from testbed.task_platform import postgres_database

NAME = "library/app"


@pytest.fixture()
def driver(tmp_path: Path) -> StorageDriver:
    return create_driver("filesystem", {"rootdirectory": str(tmp_path / "storage")})


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The sessions' database: SQLite (embedded) or PostgreSQL (a cluster)."""
    raw: dict[str, object] = {"data_dir": str(tmp_path / "var")}
    if request.param == "postgresql":
        raw["database"] = {"url": request.getfixturevalue("postgres_url")}
    return parse_settings(raw)


def new_sessions(settings: Settings, ttl: float = 30.0) -> DatabaseUploadSessions:
    """The sessions of one registry process (each call: another process)."""
    database = open_database(settings)
    return DatabaseUploadSessions(lambda: database, timedelta(seconds=ttl))


@pytest.fixture()
def sessions(database_settings: Settings) -> DatabaseUploadSessions:
    return new_sessions(database_settings)


def resume(
    driver: StorageDriver, sessions: DatabaseUploadSessions, upload_id: str, name: str = NAME
) -> Upload:
    """The upload, held as a request holds it (released when the test ends)."""
    uploads.require_upload(driver, name, upload_id)
    return Upload.resume(driver, name, upload_id, sessions.acquire(name, upload_id))


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def exists(driver: StorageDriver, path: str) -> bool:
    try:
        driver.stat(path)
    except PathNotFoundError:
        return False
    return True


def upload_chunks(driver: StorageDriver, sessions: DatabaseUploadSessions, *chunks: bytes) -> str:
    """Start an upload and send each chunk as its own request; returns the upload id."""
    upload = Upload.create(driver, NAME)
    upload.save()
    sessions.register(NAME, upload.upload_id)
    for chunk in chunks:
        hold = sessions.acquire(NAME, upload.upload_id)
        resumed = Upload.resume(driver, NAME, upload.upload_id, hold)
        resumed.write(chunk)
        resumed.save()
        hold.release()
    return upload.upload_id


def test_new_upload_has_distributions_files(driver: StorageDriver) -> None:
    upload = Upload.create(driver, NAME)
    upload.save()
    started = driver.get_content(layout.upload_started_at(NAME, upload.upload_id)).decode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started)
    assert driver.stat(layout.upload_data(NAME, upload.upload_id)).size == 0
    state = driver.get_content(layout.upload_hashstate(NAME, upload.upload_id, "sha256", 0))
    assert ResumableSha256.unmarshal(state).length == 0


def test_each_chunk_leaves_a_hash_state_at_its_end_offset(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"a" * 100, b"b" * 27)
    states = driver.list(layout.upload_hashstates(NAME, upload_id, "sha256"))
    assert sorted(int(p.rpartition("/")[2]) for p in states) == [0, 100, 127]
    state = driver.get_content(layout.upload_hashstate(NAME, upload_id, "sha256", 127))
    resumed = ResumableSha256.unmarshal(state)
    assert resumed.hexdigest() == hashlib.sha256(b"a" * 100 + b"b" * 27).hexdigest()


def test_chunks_sent_through_separate_handles_complete_to_the_blob(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    chunks = [b"x" * 70, b"y" * 1000, b"z"]
    upload_id = upload_chunks(driver, sessions, *chunks)
    digest = sha256(b"".join(chunks))
    assert resume(driver, sessions, upload_id).complete(digest) == 1071
    assert driver.get_content(layout.blob_data(digest)) == b"".join(chunks)
    assert linked_blob_size(driver, NAME, digest) == 1071
    assert not exists(driver, layout.upload_dir(NAME, upload_id))


def test_resume_reads_the_state_left_at_the_data_size_without_listing(
    driver: StorageDriver, sessions: DatabaseUploadSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = upload_chunks(driver, sessions, b"a" * 100, b"b" * 27)
    listed: list[str] = []
    real_list = driver.list
    monkeypatch.setattr(driver, "list", lambda path: listed.append(path) or real_list(path))
    upload = resume(driver, sessions, upload_id)
    upload.write(b"c")
    assert upload.complete(sha256(b"a" * 100 + b"b" * 27 + b"c")) == 128
    assert not [path for path in listed if "/hashstates/" in path]


def test_resume_rebuilds_the_hash_from_data_when_states_are_gone(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"first-", b"second")
    driver.delete(layout.upload_dir(NAME, upload_id) + "/hashstates")
    upload = resume(driver, sessions, upload_id)
    upload.write(b"-third")
    assert upload.complete(sha256(b"first-second-third")) == 18


def test_resume_skips_corrupt_states_and_states_beyond_the_data(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"0123456789", b"abcdef")
    driver.put_content(layout.upload_hashstate(NAME, upload_id, "sha256", 16), b"garbage")
    driver.put_content(layout.upload_hashstate(NAME, upload_id, "sha256", 500), b"x")
    upload = resume(driver, sessions, upload_id)
    assert upload.complete(sha256(b"0123456789abcdef")) == 16


def test_wrong_digest_cancels_the_upload_and_stores_no_blob(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"payload")
    wrong = sha256(b"other")
    with pytest.raises(DigestInvalid):
        resume(driver, sessions, upload_id).complete(wrong)
    assert not exists(driver, layout.blob_data(wrong))
    assert not exists(driver, layout.blob_data(sha256(b"payload")))
    assert not exists(driver, layout.upload_dir(NAME, upload_id))


def test_completing_a_blob_that_exists_keeps_it_and_drops_the_upload(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    digest = sha256(b"shared")
    driver.put_content(layout.blob_data(digest), b"shared")
    before = driver.stat(layout.blob_data(digest)).mod_time
    upload_id = upload_chunks(driver, sessions, b"shared")
    resume(driver, sessions, upload_id).complete(digest)
    assert driver.stat(layout.blob_data(digest)).mod_time == before
    assert linked_blob_size(driver, NAME, digest) == 6
    assert not exists(driver, layout.upload_dir(NAME, upload_id))


def test_sha512_digests_are_verified_by_reading_the_data(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"long hash")
    digest = f"sha512:{hashlib.sha512(b'long hash').hexdigest()}"
    resume(driver, sessions, upload_id).complete(digest)
    assert driver.get_content(layout.blob_data(digest)) == b"long hash"


def test_empty_upload_completes_to_the_empty_blob(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions)
    assert resume(driver, sessions, upload_id).complete(sha256(b"")) == 0


@pytest.mark.parametrize(
    "upload_id",
    ["..", "../../blobs", "x", "0A0E8F46-2C51-4E4C-9C2B-6E3E1D7C9B1A", "0a0e8f46-2c51-4e4c-9c2b"],
)
def test_malformed_upload_ids_are_unknown_uploads(
    driver: StorageDriver, sessions: DatabaseUploadSessions, upload_id: str
) -> None:
    with pytest.raises(BlobUploadUnknown):
        resume(driver, sessions, upload_id)


def test_upload_of_another_repository_is_unknown(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"data")
    with pytest.raises(BlobUploadUnknown):
        resume(driver, sessions, upload_id, "other/repo")


def test_upload_size_and_cancel(driver: StorageDriver, sessions: DatabaseUploadSessions) -> None:
    upload_id = upload_chunks(driver, sessions, b"12345", b"678")
    assert uploads.upload_size(driver, NAME, upload_id, sessions.committed(NAME, upload_id)) == 8
    uploads.cancel_upload(driver, NAME, upload_id)
    assert not exists(driver, layout.upload_dir(NAME, upload_id))
    with pytest.raises(BlobUploadUnknown):
        uploads.upload_size(driver, NAME, upload_id, None)
    with pytest.raises(BlobUploadUnknown):
        uploads.cancel_upload(driver, NAME, upload_id)


def test_mount_links_a_blob_linked_in_the_source(driver: StorageDriver) -> None:
    digest = sha256(b"layer")
    driver.put_content(layout.blob_data(digest), b"layer")
    link_blob(driver, "source/repo", digest)
    assert uploads.mount_blob(driver, NAME, digest, "source/repo")
    assert linked_blob_size(driver, NAME, digest) == 5


@pytest.mark.parametrize(
    ("digest", "source"),
    [
        (sha256(b"layer"), "elsewhere"),  # not linked in the source
        ("sha256:nothex", "source/repo"),
        (sha256(b"layer"), "../source"),
    ],
)
def test_mount_refuses_what_it_cannot_link(driver: StorageDriver, digest: str, source: str) -> None:
    real = sha256(b"layer")
    driver.put_content(layout.blob_data(real), b"layer")
    link_blob(driver, "source/repo", real)
    assert not uploads.mount_blob(driver, NAME, digest, source)
    assert linked_blob_size(driver, NAME, real) is None


def test_mount_from_a_soft_deleted_repository_is_refused(driver: StorageDriver) -> None:
    digest = sha256(b"layer")
    driver.put_content(layout.blob_data(digest), b"layer")
    link_blob(driver, "source/repo", digest)
    driver.put_content(layout.deleted_marker("source/repo"), b"{}")  # what mark_deleted writes
    assert not uploads.mount_blob(driver, NAME, digest, "source/repo")


def test_started_at_is_rfc3339_utc_to_the_second() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    assert uploads.started_at_text(moment) == "2024-02-29T23:59:58Z"


def test_a_rolled_back_request_leaves_the_session_as_it_was(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"kept")
    hold = sessions.acquire(NAME, upload_id)
    upload = Upload.resume(driver, NAME, upload_id, hold)
    upload.write(b"dropped")
    upload.rollback()
    hold.release()
    assert sessions.committed(NAME, upload_id) == 4
    assert resume(driver, sessions, upload_id).complete(sha256(b"kept")) == 4


def test_bytes_a_dead_request_wrote_after_its_last_commit_are_dropped(
    driver: StorageDriver, sessions: DatabaseUploadSessions
) -> None:
    upload_id = upload_chunks(driver, sessions, b"kept")
    hold = sessions.acquire(NAME, upload_id)
    upload = Upload.resume(driver, NAME, upload_id, hold)
    upload.write(b"written, never committed")  # then the process dies: no save, no release
    hold.lost = True  # what a dead holder's expired lease amounts to
    with sessions._lock:
        sessions._held.clear()
    driver.delete(layout.upload_hashstate(NAME, upload_id, "sha256", 4))  # no state to lean on
    sessions._release(hold, None)
    upload = resume(driver, sessions, upload_id)
    assert upload.size == 4
    upload.write(b"+more")
    assert upload.complete(sha256(b"kept+more")) == 9


def test_a_second_holder_is_refused_until_the_first_releases(
    tmp_path: Path, database_settings: Settings
) -> None:
    first, second = new_sessions(database_settings), new_sessions(database_settings)
    driver = create_driver("filesystem", {"rootdirectory": str(tmp_path / "storage")})
    upload_id = upload_chunks(driver, first, b"12345")
    hold = first.acquire(NAME, upload_id)
    with pytest.raises(UploadBusy) as busy:
        second.acquire(NAME, upload_id)
    assert busy.value.status == 416 and busy.value.headers["Range"] == "0-4"
    hold.release()
    second.acquire(NAME, upload_id).release()


def test_a_hold_that_was_not_renewed_expires_and_its_commit_is_refused(
    tmp_path: Path, database_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = new_sessions(database_settings, ttl=1.0)
    alive = new_sessions(database_settings, ttl=1.0)
    monkeypatch.setattr(frozen, "_start_renewing", lambda: None)  # a process that stopped
    driver = create_driver("filesystem", {"rootdirectory": str(tmp_path / "storage")})
    upload_id = upload_chunks(driver, alive, b"12345")
    stale = frozen.acquire(NAME, upload_id)
    upload = Upload.resume(driver, NAME, upload_id, stale)
    time.sleep(1.2)
    with pytest.raises(UploadLockLost):
        upload.write(b"late")  # half the TTL passed without renewal: it stops writing
    taker = alive.acquire(NAME, upload_id)  # the TTL passed: another process takes over
    with pytest.raises(UploadLockLost):
        stale.commit(5)
    taker.release()


def test_a_renewed_hold_outlives_its_ttl(tmp_path: Path, database_settings: Settings) -> None:
    # Renewals run every TTL/3 and a hold stays valid TTL/2 after one: a TTL of 2.4 s leaves
    # a renewal 0.4 s to commit (0.6 s left 0.1 s, which a loaded SQLite missed in CI).
    sessions = new_sessions(database_settings, ttl=2.4)
    driver = create_driver("filesystem", {"rootdirectory": str(tmp_path / "storage")})
    upload_id = upload_chunks(driver, sessions, b"")
    hold = sessions.acquire(NAME, upload_id)
    upload = Upload.resume(driver, NAME, upload_id, hold)
    for _ in range(15):  # 7.5 s: three TTLs of a slow but live writer
        upload.write(b"x")
        time.sleep(0.5)
    upload.save()
    hold.release()
    assert sessions.committed(NAME, upload_id) == 15
