"""The Celery app built from the settings: JSON only, late acks, transports."""

from __future__ import annotations

from pathlib import Path

from registry.config import parse_settings
from registry.tasks.limits import TIME_LIMITS
from worker.celery_app import create_celery
from worker.tasks import register_tasks


def test_the_embedded_default_uses_the_filesystem_transport_under_data_dir(tmp_path: Path) -> None:
    app = create_celery(parse_settings({"data_dir": str(tmp_path)}))
    assert app.conf.broker_url == "hthfs://localhost/"
    options = app.conf.broker_transport_options
    assert options["data_folder_in"] == str(tmp_path / "queue" / "messages")
    assert (tmp_path / "queue" / "messages").is_dir()


def test_redis_redelivers_only_after_the_longest_time_limit(tmp_path: Path) -> None:
    raw = {"data_dir": str(tmp_path), "queue": {"broker_url": "redis://h:6379/0"}}
    raw["queue"] |= {"visibility_timeout": "1m", "key_prefix": "p:"}
    app = create_celery(parse_settings(raw))
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] > max(limits.time_limit for limits in TIME_LIMITS.values())
    assert options["global_keyprefix"] == "p:"


def test_tasks_are_json_late_acked_and_limited_per_kind(tmp_path: Path) -> None:
    app = create_celery(parse_settings({"data_dir": str(tmp_path)}))
    register_tasks(app)
    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"
    assert app.conf.worker_prefetch_multiplier == 1
    for kind, limits in TIME_LIMITS.items():
        task = app.tasks[f"hth.{kind}"]
        assert task.acks_late and task.reject_on_worker_lost
        limited = (task.soft_time_limit, task.time_limit)
        assert limited == (limits.soft_time_limit, limits.time_limit)
