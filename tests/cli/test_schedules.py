"""`hth-ctl schedules ...` against `hth-ctl up` on the embedded default."""

from __future__ import annotations

import json

import pytest

from testbed.task_platform import UpPlatform

pytestmark = pytest.mark.integration


def test_the_default_purge_schedule_is_listed(up_platform: UpPlatform) -> None:
    listing = up_platform.hth_ctl("schedules", "list").stdout
    assert "purge_uploads" in listing and "0 0 * * *" in listing


def test_add_set_disable_and_delete_a_schedule(up_platform: UpPlatform) -> None:
    added = up_platform.hth_ctl("schedules", "add", "noop", "0 3 * * *", "-p", "steps=2")
    assert added.returncode == 0, added.stderr
    schedule_id = added.stdout.strip()
    changed = up_platform.hth_ctl("schedules", "set", schedule_id, "--cron", "30 4 * * 1")
    assert changed.stdout.strip() == f"{schedule_id}: 30 4 * * 1 enabled"
    assert up_platform.hth_ctl("schedules", "disable", schedule_id).returncode == 0
    shown = json.loads(up_platform.hth_ctl("schedules", "show", schedule_id).stdout)
    assert (shown["cron"], shown["enabled"], shown["params"]) == ("30 4 * * 1", False, {"steps": 2})
    assert up_platform.hth_ctl("schedules", "delete", schedule_id).returncode == 0
    gone = up_platform.hth_ctl("schedules", "show", schedule_id)
    assert gone.returncode == 1 and "404" in gone.stderr


def test_an_invalid_cron_is_refused_with_the_reason(up_platform: UpPlatform) -> None:
    result = up_platform.hth_ctl("schedules", "add", "noop", "every day")
    assert result.returncode == 1
    assert "5 fields" in result.stderr
