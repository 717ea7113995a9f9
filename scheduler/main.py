"""`hth-ctl run beat`: the scheduler loop in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from registry.config import Settings
from registry.durations import parse_duration
from registry.logs import configure_logging
from registry.tasks.db import open_database
from scheduler.beat import Beat
from scheduler.defaults import ensure_default_schedules

log = logging.getLogger("hth.beat")


def run_beat(settings: Settings) -> None:
    configure_logging(settings.logging)
    db = open_database(settings)
    ensure_default_schedules(db, settings)
    beat = Beat(db, settings, holder=f"{socket.gethostname()}:{os.getpid()}")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    tick = parse_duration(settings.scheduler.tick).total_seconds()
    log.info("beat %s started (tick %.1fs)", beat.holder, tick)
    while not stop.is_set():
        try:
            beat.tick()
        except Exception:  # noqa: BLE001 - e.g. the database is restarting: try next tick
            log.exception("beat tick failed")
        stop.wait(tick)
    beat.resign()
    log.info("beat %s stopped", beat.holder)
