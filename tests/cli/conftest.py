"""`hth-ctl up` on the embedded default, shared by the CLI tests of tasks and schedules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.task_platform import UpPlatform


@pytest.fixture(scope="session")
def up_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpPlatform]:
    platform = UpPlatform(tmp_path_factory.mktemp("up"))
    try:
        platform.start()
    except BaseException:
        platform.stop()  # a start that timed out leaves its processes running otherwise
        raise
    yield platform
    platform.stop()
