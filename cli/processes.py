"""Starting components: one in the foreground, or all of them as child processes."""

from __future__ import annotations

import os
import sys

from cli import supervisor
from registry.config import Settings, load_settings
from registry.ports import check_free, platform_listeners

PLATFORM_COMPONENTS = ["registry", "worker", "beat", "flower"]


def run_component(component: str, settings: Settings, config_path: str | None) -> None:
    if component == "registry":
        from api.server import serve

        serve(settings, config_path)
    elif component == "worker":
        from worker.main import run_worker

        run_worker(settings)
    elif component == "beat":
        from scheduler.main import run_beat

        run_beat(settings)
    elif component == "flower":
        from worker.flower import run_flower

        run_flower(settings)


def _platform_components(config_path: str | None) -> list[str]:
    """The components `up` starts, after migrating the task database once, here."""
    from registry.tasks.db import open_database

    settings = load_settings(config_path)
    open_database(settings).engine.dispose()
    if settings.flower.enabled:
        flower = settings.flower
        secret = "flower.password" if flower.password else settings.data_path() / "flower.password"
        where = f"http://127.0.0.1:{flower.port}/ (user {flower.username}, password: {secret})"
        print(f"hth-ctl: Flower at {where}", file=sys.stderr)
    return [c for c in PLATFORM_COMPONENTS if c != "flower" or settings.flower.enabled]


def run_platform(config_path: str | None) -> int:
    """Start every component under a supervisor that stops all when one dies or on
    Ctrl-C/SIGTERM. Every port is checked first (a taken one is named with its setting before
    anything starts), then the migration runs here; then this process becomes the
    supervisor (exec: same PID, none of the platform's modules left in memory)."""
    check_free(platform_listeners(load_settings(config_path)))
    components = _platform_components(config_path)
    argv = supervisor.command(components, config_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
