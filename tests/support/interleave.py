"""Run real code in several threads one protocol step at a time, in a seeded random order.

Each actor is a thread that calls `baton.step(actor)` at the points where another actor may
cut in (the online GC's guard and fence call their `step` hook there). Only one actor runs at
a time: the scheduler waits until every live actor is parked at a step, then lets one of
them, chosen by the seeded generator, run to its next step. So a seed is one interleaving.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable


class Baton:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._cv = threading.Condition()
        self._waiting: set[str] = set()
        self._running: set[str] = set()
        self._turn: str | None = None
        self._main: set[str] = set()  # actors the run waits for (others are daemons)
        self.stopping = False  # set once every main actor finished: daemons end their loops
        self.errors: list[str] = []
        self.steps = 0

    def step(self, actor: str) -> None:
        """Park `actor` here until the scheduler picks it."""
        with self._cv:
            self._running.discard(actor)
            self._waiting.add(actor)
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._turn == actor)
            self._turn = None
            self._waiting.discard(actor)
            self._running.add(actor)

    def spawn(self, actor: str, body: Callable[[], None], main: bool = True) -> None:
        with self._cv:
            self._running.add(actor)
            if main:
                self._main.add(actor)

        def run() -> None:
            try:
                self.step(actor)
                body()
            except BaseException:  # noqa: BLE001 - reported by the test
                self.errors.append(f"{actor}: {traceback.format_exc()}")
            finally:
                with self._cv:
                    self._running.discard(actor)
                    self._main.discard(actor)
                    self._cv.notify_all()

        threading.Thread(target=run, name=actor, daemon=True).start()

    def run(self, timeout: float = 120.0) -> None:
        """Schedule until no actor is left."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                settled = self._cv.wait_for(
                    lambda: not self._running and self._turn is None, deadline - time.monotonic()
                )
                if not settled:
                    raise TimeoutError(f"actors still running: {sorted(self._running)}")
                if not self._main:
                    self.stopping = True
                if not self._waiting:
                    return
                self._turn = self.rng.choice(sorted(self._waiting))
                self.steps += 1
                self._cv.notify_all()
