"""`hth-ctl run beat`: the scheduler loop in the foreground until SIGTERM or Ctrl-C; or, under
`hth-ctl up`, the same loop in a thread of the registry's first HTTP worker process
(cli/http_worker.py), which already holds everything a beat needs, saving a process. Only
the holder of the database's "beat" lock fires (scheduler/beat.py), so a beat in a thread and
any `hth-ctl run beat` of the cluster still fire each occurrence once."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

from registry.config import Settings
from registry.db.database import open_database
from registry.logs import configure_logging
from scheduler.beat import Beat
from scheduler.defaults import ensure_default_schedules

log = logging.getLogger("hth.beat")

# How long a stopping process waits for its beat thread to resign the lock.
THREAD_STOP_SECONDS = 10.0


def run_beat(settings: Settings) -> None:
    configure_logging(settings.logging)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_until(settings, stop)


def run_until(settings: Settings, stop: threading.Event) -> None:
    """Tick until `stop` is set, then resign the lock."""
    db = open_database(settings)
    ensure_default_schedules(db, settings)
    beat = Beat(db, settings, holder=f"{socket.gethostname()}:{os.getpid()}")
    tick = settings.scheduler.tick.total_seconds()
    log.info("beat %s started (tick %.1fs)", beat.holder, tick)
    while not stop.is_set():
        try:
            beat.tick()
        except Exception:  # noqa: BLE001 - e.g. the database is restarting: try next tick
            log.exception("beat tick failed")
        stop.wait(tick)
    beat.resign()
    log.info("beat %s stopped", beat.holder)


def start_in_thread(settings: Settings) -> Callable[[], None]:
    """Run the beat in a daemon thread of this process; the function that stops it."""
    stop = threading.Event()

    def loop() -> None:
        try:
            run_until(settings, stop)
        except Exception:  # noqa: BLE001 - e.g. no database at start: the process serves on
            log.exception("the beat thread stopped")

    thread = threading.Thread(target=loop, name="hth-beat", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(THREAD_STOP_SECONDS)

    return halt
