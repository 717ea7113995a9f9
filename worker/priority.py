"""Run a task's heavy work on a thread of lower CPU priority, so that it yields to client traffic.

On Linux niceness belongs to a thread, and threads inherit their creator's: the work runs on
a fresh thread that lowers its own priority (which needs no privilege), and every thread it
starts (the GC's pool) runs at that priority too. The thread ends with the work, so the pool
process goes back to its other tasks at its own priority (raising a niceness back would need
privilege), and the task's heartbeat and lease renewals, on other threads, keep theirs.
Elsewhere the work runs on the calling thread, at its priority.

A thread's niceness only orders it against threads of its own scheduling group, though: with
autogroup (Linux's default outside cgroups) every session is one group, and the registry,
started in sessions of its own, gets an even share against the worker's whole session
whatever its threads' niceness. `lowered_group` lowers that group's weight too while the work
runs (docs/gc.md, "CPU priority").
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

R = TypeVar("R")
log = logging.getLogger("hth.tasks")
# "/autogroup-42 nice 0"; absent without autogroup, empty for a process in a CPU cgroup of its own
AUTOGROUP = Path("/proc/self/autogroup")


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


def _set_group_nice(nice: int) -> None:
    for attempt in range(3):  # the kernel takes one change per 100 ms machine-wide (EAGAIN)
        try:
            AUTOGROUP.write_text(str(nice))
            return
        except BlockingIOError:
            time.sleep(0.11 * (attempt + 1))
    AUTOGROUP.write_text(str(nice))


def _group_nice() -> int | None:
    """The niceness of this process's autogroup; None without one (no autogroup in the kernel,
    or the process is in a CPU cgroup other than the root, where the file is empty)."""
    try:
        return int(AUTOGROUP.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def lowered_group(nice: int) -> Iterator[None]:
    """While the block runs, this process's autogroup (its session: the worker's processes)
    weighs as a niceness `nice` steps lower; its niceness is put back afterwards (raising it
    back to what it was needs no privilege unless that was below 0). Where there is no
    autogroup (cgroups, other systems) the cgroup's CPU weight is the operator's."""
    before = _group_nice()
    lowered = False
    if before is not None and min(19, before + nice) > before:
        try:
            _set_group_nice(min(19, before + nice))
            lowered = True
        except OSError as exc:
            log.warning("cannot lower the CPU weight of the worker's session: %s", exc)
    try:
        yield
    finally:
        if lowered and before is not None:
            try:
                _set_group_nice(before)
            except OSError as exc:
                log.warning("cannot put back the CPU weight of the worker's session: %s", exc)
