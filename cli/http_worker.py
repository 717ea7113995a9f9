"""One registry HTTP worker process: `python -m cli.http_worker FD` serves on the listening
socket FD it inherited from its supervisor (cli/supervisor.py), which bound it
(api.server.prepare_workers) and restarts a worker that dies. The settings come from
$HTH_CONFIG, the instance the process belongs to from the environment (api/cluster.py).

Under `hth-ctl up` ($HTH_EMBEDDED_BEAT=1), the first worker ($HTH_HTTP_WORKER_INDEX=0) also
runs the beat in a thread (scheduler/main.py): one process fewer on a single machine."""

from __future__ import annotations

import os
import signal
import sys

from api.lean_imports import install

install()  # before uvicorn or FastAPI is imported

from api.logs import configure_logging  # noqa: E402
from api.server import serve_on  # noqa: E402
from cli.supervisor import EMBEDDED_BEAT_ENV, WORKER_INDEX_ENV  # noqa: E402
from registry.config import load_settings  # noqa: E402


def runs_beat() -> bool:
    return os.environ.get(EMBEDDED_BEAT_ENV) == "1" and os.environ.get(WORKER_INDEX_ENV) == "0"


def main(argv: list[str]) -> None:
    settings = load_settings()
    halt_beat = None
    if runs_beat():
        from scheduler.main import start_in_thread

        configure_logging(settings.logging)  # before the app does: the beat logs at once
        halt_beat = start_in_thread(settings)
        # uvicorn re-raises SIGINT/SIGTERM once it has shut down, which would end the process
        # before the beat resigns its lock: an exit that runs `finally` instead.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _exit)
    try:
        serve_on(settings, int(argv[0]))
    finally:
        if halt_beat is not None:
            halt_beat()


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
