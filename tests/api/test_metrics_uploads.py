"""`hth_upload_sessions_open` at /metrics: counted in storage, so an upload started on one
instance and finished on another is seen by both; a scrape never waits on a slow count."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics_uploads import (
    UploadSessions,
    UploadSessionsCollector,
    count_upload_sessions,
)
from registry.storage import StorageDriver
from testbed.processes import RegistryProcess
from testbed.task_platform import wait_until
from tests.support.registry_content import filesystem_driver


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RegistryProcess]]:
    workdir = tmp_path_factory.mktemp("metrics-uploads")
    storage = {
        "database": {"url": f"sqlite:///{workdir / 'shared.db'}"},  # one cluster: one database
        "docker_registry": {"storage_settings": {"rootdirectory": str(workdir / "shared")}},
    }
    servers = [RegistryProcess(workdir / name, config=storage) for name in ("a", "b")]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def open_sessions(server: RegistryProcess) -> float | None:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        if family.name == "hth_upload_sessions_open":
            return float(family.samples[0].value)
    return None


def test_an_upload_started_on_one_instance_and_finished_on_another_is_counted_by_both(
    two_instances: list[RegistryProcess],
) -> None:
    first, second = two_instances
    assert wait_until(lambda: open_sessions(first) == 0, 60, "first count: none open")
    started = httpx.post(f"{first.url}/v2/metrics/app/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text

    wait_until(lambda: open_sessions(first) == 1, 60, "the upload counted on the first")
    wait_until(lambda: open_sessions(second) == 1, 60, "the upload counted on the second")
    data = b"a layer"
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    finished = httpx.put(
        f"{second.url}{started.headers['Location']}", params={"digest": digest}, content=data
    )
    assert finished.status_code == 201, finished.text

    wait_until(lambda: open_sessions(first) == 0, 60, "the first sees it finished")
    wait_until(lambda: open_sessions(second) == 0, 60, "the second sees it finished")


def test_count_walks_every_repository_level(tmp_path: Path) -> None:
    driver = filesystem_driver(tmp_path)
    for name, sessions in (("a", 2), ("team/b", 1), ("team/deep/c", 3), ("empty", 0)):
        for n in range(sessions):
            driver.put_content(f"/docker/registry/v2/repositories/{name}/_uploads/u{n}/data", b"")
        driver.put_content(f"/docker/registry/v2/repositories/{name}/_layers/x/link", b"x")

    assert count_upload_sessions(driver) == 6
    assert count_upload_sessions(filesystem_driver(tmp_path / "none")) == 0


def test_a_slow_count_does_not_hold_the_scrape(tmp_path: Path) -> None:
    driver = filesystem_driver(tmp_path)
    driver.put_content("/docker/registry/v2/repositories/r/_uploads/u/data", b"")
    release = threading.Event()

    def slow_backend() -> StorageDriver:
        release.wait(30)  # the backend answers only when the test says so
        return driver

    sessions = UploadSessions(slow_backend)
    sessions.refresh()  # waits FIRST_WAIT at most, then answers without a count
    names = {m.name for m in UploadSessionsCollector(sessions).collect()}
    assert names == {"hth_upload_sessions_count_ok"}

    release.set()
    wait_until(lambda: sessions.count == 1, 10, "the background count")
    families = {m.name: m for m in UploadSessionsCollector(sessions).collect()}
    assert families["hth_upload_sessions_open"].samples[0].value == 1
