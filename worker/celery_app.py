"""The Celery app, built from the settings (never at import time).

Redis in production (`queue.broker_url`); Celery's filesystem transport under data_dir on
the embedded default, so one machine needs no server. Messages carry only a task id: the
record in the database is the source of truth.

Importing this module loads no pydantic: the Celery worker's main process and Flower build
their app from `celery_conf(settings)` computed before they exec (worker/boot.py), and load
the settings only when a task asks for them (`HthCelery.settings`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery

from worker import fs_transport
from worker.broker import PUBLISH_RETRY_POLICY, QUEUE, broker_url, transport_options
from worker.broker import queue_folder as queue_folder
from worker.broker import task_name as task_name

if TYPE_CHECKING:
    from registry.config import Settings

# The hth.json document (and its path) a process whose app came from `app_from_conf` reads
# its settings from: the same document its parent had, not the file as it is by then.
SETTINGS_ENV = "HTH_WORKER_SETTINGS"


class HthCelery(Celery):  # type: ignore[misc]
    """A Celery app that knows the platform settings it was built from."""

    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = settings_from_env()
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment from which `settings_from_env` rebuilds these settings."""
    document = json.loads(Path(settings.source).read_text()) if settings.source else {}
    return {SETTINGS_ENV: json.dumps({"source": settings.source, "document": document})}


def settings_from_env() -> Settings:
    from registry.config import parse_settings

    passed = json.loads(os.environ[SETTINGS_ENV])
    return parse_settings(passed["document"], source=passed["source"])


def create_celery(settings: Settings) -> HthCelery:
    app = app_from_conf(celery_conf(settings))
    app.settings = settings
    return app


def app_from_conf(conf: dict[str, Any]) -> HthCelery:
    """The app of `celery_conf`'s configuration (JSON: it crosses an exec)."""
    fs_transport.register()  # hthfs:// resolves in this process too (idempotent)
    app = HthCelery("hth", set_as_current=False)
    app.conf.update(conf)
    return app


def celery_conf(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": broker_url(settings),
        "broker_transport_options": transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 2,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "result_backend": None,
        "task_ignore_result": True,
        "task_default_queue": QUEUE,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
        "timezone": "UTC",
        "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
    }
