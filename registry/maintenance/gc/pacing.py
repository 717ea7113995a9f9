"""An online GC's pacing: while other processes keep the CPU busy (the registry serving its
clients, the clients themselves on a shared machine), the GC works only a share of the time
and pauses for the rest, between units of work (docs/gc.md, "Pacing").

Niceness cannot do this alone: it orders threads within one scheduling group only (autogroup
puts each session in its own), and not the disk the deletes share with the registry's
writes; a pause gives back both. Measured on Linux from
/proc/stat (the machine's busy time) minus /proc/self/stat (this process's, every thread);
elsewhere, or when those cannot be read, the GC never pauses.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds used so far: by the whole machine, and by this process."""

    machine: float
    own: float


def read_cpu_times() -> CpuTimes | None:
    """From /proc: busy time of every CPU (user, nice, system, irq, softirq, steal; not idle
    nor iowait) and this process's user and system time. None where /proc is not Linux's."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        busy = [int(fields[i]) for i in (1, 2, 3, 6, 7, 8)]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return CpuTimes(sum(busy) / TICK, (int(own[11]) + int(own[12])) / TICK)
    except (OSError, ValueError, IndexError):
        return None


class Pacer:
    """Call it between units of work. Every `window` seconds it measures how many CPUs other
    processes kept busy; at `busy_cpus` or more it pauses long enough that the GC's work
    since the last measure is `share` of the time, at most `max_pause` at once (a cancel
    waits for the pause to end). `share` 1: it never pauses."""

    def __init__(
        self,
        share: float,
        *,
        busy_cpus: float = 0.5,
        window: float = 0.25,
        max_pause: float = 5.0,
        read: Callable[[], CpuTimes | None] = read_cpu_times,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.share, self.busy_cpus = share, busy_cpus
        self.window, self.max_pause = window, max_pause
        self._read, self._clock, self._sleep = read, clock, sleep
        self._lock = threading.Lock()
        self._since = clock()
        self._last = read() if share < 1 else None
        self.paused = 0.0  # seconds paused so far

    def __call__(self) -> None:
        if self._last is None or self._clock() - self._since < self.window:
            return
        with self._lock:
            now, sample = self._clock(), self._read()
            worked, last = now - self._since, self._last
            if sample is None or last is None or worked < self.window:
                return
            others = ((sample.machine - last.machine) - (sample.own - last.own)) / worked
            if others >= self.busy_cpus:
                pause = min(self.max_pause, worked * (1 - self.share) / self.share)
                self._sleep(pause)
                self.paused += pause
                now, sample = self._clock(), self._read()
            self._since, self._last = now, sample
