"""Where task messages go, without Celery: the broker's URL and transport options, the
queue and the task names. Shared by the Celery app (worker/celery_app.py) and the processes
that only send (worker/publish.py: the registry's HTTP workers, beat, the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker import fs_transport

if TYPE_CHECKING:
    from registry.config import Settings

QUEUE = "hth"
# A broker that is down must not hang the API: fail fast, the reaper re-sends.
PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}


def task_name(kind: str) -> str:
    return f"hth.{kind}"


def queue_folder(settings: Settings) -> Path:
    return settings.data_path() / "queue"


def broker_url(settings: Settings) -> str:
    return settings.queue.broker_url or fs_transport.register()


def transport_options(settings: Settings) -> dict[str, Any]:
    from registry.tasks.limits import TIME_LIMITS

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
    longest = max(limits.time_limit for limits in TIME_LIMITS.values())
    visibility = settings.queue.visibility_timeout.total_seconds()
    options: dict[str, Any] = {
        # Redis re-delivers an unacknowledged message after this: never while it still runs.
        "visibility_timeout": int(max(visibility, longest + 600)),
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
    }
    if settings.queue.key_prefix:
        options["global_keyprefix"] = settings.queue.key_prefix
    return options
