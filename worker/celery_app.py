"""The Celery app, built from the settings (never at import time).

Redis in production (`queue.broker_url`); Celery's filesystem transport under data_dir on
the embedded default, so one machine needs no server. Messages carry only a task id: the
record in the database is the source of truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from registry.config import Settings
from registry.durations import parse_duration
from registry.maintenance import KINDS
from worker import fs_transport

QUEUE = "hth"


class HthCelery(Celery):  # type: ignore[misc]
    """A Celery app that knows the platform settings it was built from."""

    settings: Settings


def task_name(kind: str) -> str:
    return f"hth.{kind}"


def queue_folder(settings: Settings) -> Path:
    return settings.data_path() / "queue"


def broker_url(settings: Settings) -> str:
    return settings.queue.broker_url or fs_transport.register()


def transport_options(settings: Settings) -> dict[str, Any]:
    if settings.queue.broker_url is None:
        folder = queue_folder(settings)
        for sub in ("messages", "control", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "messages"),
            "data_folder_out": str(folder / "messages"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    longest = max(kind.time_limit for kind in KINDS.values())
    visibility = parse_duration(settings.queue.visibility_timeout).total_seconds()
    options: dict[str, Any] = {
        # Redis re-delivers an unacknowledged message after this: never while it still runs.
        "visibility_timeout": int(max(visibility, longest + 600)),
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
    if settings.queue.key_prefix:
        options["global_keyprefix"] = settings.queue.key_prefix
    return options


def create_celery(settings: Settings) -> HthCelery:
    app = HthCelery("hth", set_as_current=False)
    app.settings = settings
    app.conf.update(
        broker_url=broker_url(settings),
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
        # A broker that is down must not hang the API: fail fast, the reaper re-sends.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    )
    return app
