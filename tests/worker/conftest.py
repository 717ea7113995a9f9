"""A task platform on the machine's Redis (own key prefix): registry/API, a worker, a beat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.task_platform import RedisNamespace, TaskPlatform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("tasks"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    try:
        platform.start("registry", "worker", "beat")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()
