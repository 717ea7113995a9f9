"""Run a task's heavy work on a thread of lower CPU priority, so that it yields to client traffic.

On Linux niceness belongs to a thread, and threads inherit their creator's: the work runs on
a fresh thread that lowers its own priority (which needs no privilege), and every thread it
starts (the GC's pool) runs at that priority too. The thread ends with the work, so the pool
process goes back to its other tasks at its own priority (raising a niceness back would need
privilege), and the task's heartbeat and lease renewals, on other threads, keep theirs.
Elsewhere the work runs on the calling thread, at its priority.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")
log = logging.getLogger("hth.tasks")


def lower_this_thread(nice: int) -> int:
    """Add `nice` to the calling thread's niceness (at most 19); the niceness it now has."""
    tid = threading.get_native_id()
    current = os.getpriority(os.PRIO_PROCESS, tid)
    target = min(19, current + nice)
    if target > current:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, target)
        except OSError as exc:  # a sandbox may refuse it: run at the priority we have
            log.warning("cannot lower the CPU priority of the task's thread: %s", exc)
            return current
    return target


def run_niced(work: Callable[[], R], nice: int, interrupt: Callable[[], None]) -> R:
    """`work()` on a thread `nice` steps lower in priority; its result or its exception. Should
    the caller be interrupted while waiting (a time limit's signal), `interrupt()` asks the
    work to stop and the caller waits for it before passing the interruption on: the work
    never outlives the caller's locks (the storage lease)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return work()
    outcome: list[R] = []
    failure: list[BaseException] = []

    def body() -> None:
        lower_this_thread(nice)
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=body, name="hth-niced", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        interrupt()
        thread.join()
        raise
    if failure:
        raise failure[0]
    return outcome[0]
