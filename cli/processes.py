"""Starting components: one in the foreground, or all of them as child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable

from registry.config import Settings

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
    from registry.config import load_settings
    from registry.tasks.db import open_database

    settings = load_settings(config_path)
    open_database(settings).engine.dispose()
    if settings.flower.enabled:
        flower = settings.flower
        secret = "flower.password" if flower.password else settings.data_path() / "flower.password"
        where = f"http://127.0.0.1:{flower.port}/ (user {flower.username}, password: {secret})"
        print(f"hth-ctl: Flower at {where}", file=sys.stderr)
    return [c for c in PLATFORM_COMPONENTS if c != "flower" or settings.flower.enabled]


def _spawn(component: str, config_path: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "cli.main"]
    if config_path:
        args += ["--config", config_path]
    return subprocess.Popen([*args, "run", component])


def run_platform(config_path: str | None) -> int:
    """Start every component; stop all when one dies or on Ctrl-C/SIGTERM."""
    components = _platform_components(config_path)
    children = {name: _spawn(name, config_path) for name in components}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"hth-ctl: {name} exited with code {code}; stopping", file=sys.stderr)
                exit_code, stopping = code or 1, True
        time.sleep(0.2)
    _terminate(children.values())
    return exit_code


def _terminate(children: Iterable[subprocess.Popen[bytes]]) -> None:
    procs = list(children)
    for child in procs:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in procs:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
