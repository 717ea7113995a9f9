"""Starting components: one in the foreground, or all of them as child processes."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from cli import supervisor
from registry.config import Settings, load_settings
from registry.ports import check_free, platform_listeners

PLATFORM_COMPONENTS = ["registry", "worker", "beat", "flower"]


def run_component(component: str, settings: Settings, config_path: str | None) -> None:
    if component == "registry":
        if settings.docker_registry.http.workers == 1:
            from api.server import serve

            serve(settings, config_path)
        else:
            http = _http_workers(settings, config_path)
            _migrate_for_workers(settings)
            _exec(supervisor.command([], config_path, http))
    elif component == "worker":
        from worker.main import run_worker

        run_worker(settings)
    elif component == "beat":
        from scheduler.main import run_beat

        run_beat(settings)
    elif component == "flower":
        from worker.flower import run_flower

        run_flower(settings)


def _http_workers(settings: Settings, config_path: str | None) -> tuple[int, int, dict[str, str]]:
    """Bind the registry's socket for the HTTP workers the supervisor starts (api.server)."""
    from api.server import prepare_workers

    workers = prepare_workers(settings, config_path)
    return workers.count, workers.fd, workers.env


def _migrate_for_workers(settings: Settings) -> None:
    """Migrate here, once: the HTTP workers then find the schema current and never load
    Alembic (12 MiB each). A database that does not answer yet is left to them: they serve
    and retry, as they did before this step existed."""
    from registry.db.database import open_database

    try:
        open_database(settings).engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported; the workers retry
        print(f"hth-ctl: database not migrated here ({exc}); the workers retry", file=sys.stderr)


def _exec(argv: list[str]) -> NoReturn:
    """Become `argv` (same PID, none of this process's modules left in memory)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def _platform_components(settings: Settings) -> list[str]:
    """The components `up` starts, after migrating the task database once, here."""
    from registry.db.database import open_database

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
    anything starts), then the migration runs here and the registry's socket is bound; then
    this process becomes the supervisor (exec: same PID, none of the platform's modules left
    in memory), which starts the registry's HTTP workers and `hth-ctl run X` for the rest."""
    settings = load_settings(config_path)
    check_free(platform_listeners(settings))
    components = _platform_components(settings)
    if settings.docker_registry.http.workers == 1:
        _exec(supervisor.command(components, config_path))
    # The supervisor starts the registry's HTTP workers itself: no uvicorn supervisor; and
    # the first of them runs the beat in a thread (cli/http_worker.py): no beat process.
    count, fd, env = _http_workers(settings, config_path)
    components = [c for c in components if c not in ("registry", "beat")]
    http = (count, fd, {**env, supervisor.EMBEDDED_BEAT_ENV: "1"})
    _exec(supervisor.command(components, config_path, http))
