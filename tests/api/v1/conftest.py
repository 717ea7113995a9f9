"""One registry/API process with no worker: tasks stay queued, which these tests rely on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from testbed.task_platform import RedisNamespace, TaskPlatform


@pytest.fixture(scope="package")
def api_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("api-v1"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start_registry()
    except BaseException:
        platform.stop()  # a start that timed out leaves its process running otherwise
        namespace.cleanup()
        raise
    yield platform
    platform.stop()
    namespace.cleanup()


@pytest.fixture()
def api(api_platform: TaskPlatform) -> httpx.Client:
    return api_platform.api()
