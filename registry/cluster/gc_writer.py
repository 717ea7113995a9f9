"""A registry process's half of online GC: the GCGuard its requests call (docs/gc.md).

The process learns of an online GC run from the storage lease (mode `online`), read by its
heartbeat about once a second, and acknowledges the lease's token only after `observe` has
recorded, for the run, the keys of its requests still in flight (they may write after the
marking read the tree: always kept) and the keys used within `window` before, with the time
of their use (kept when within the run's window, the grace period up to 10 minutes: a client
that heard "exists" just before the run and pushes its manifest during the sweep finds its
blobs kept). While a run is active, `protect` commits a touch for each key it has not yet
made safe in this run, then waits while a sweep's deleting mark on one of them is live. No
run: dictionary updates under a lock, no database round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from registry.cluster import gc_online, leases
from registry.db.database import Database
from registry.errors import Unavailable
from registry.tasks.models import utcnow

log = logging.getLogger("hth.gc")

# Keys used within this long before a run starts are recorded as touched by it.
RECENT_WINDOW = 600.0
RECENT_LIMIT = 200_000  # at most this many recent keys are remembered (the oldest go first)
ONLINE = "online"

Step = Callable[[str], None]
# The keys the current request protected while no run was active (see request_scope).
_REQUEST_KEYS: ContextVar[list[str] | None] = ContextVar("hth_gc_request_keys", default=None)


def online_run(db: Database) -> int | None:
    """The id of the online GC run active now (its storage lease token), else None."""
    lease = leases.current(db)
    return lease.token if lease is not None and lease.mode == ONLINE else None


def _no_step(_: str) -> None:
    return None


class OnlineGuard:
    """GCGuard of one process; `observe` is fed by the heartbeat with what the lease says."""

    def __init__(
        self,
        db: Callable[[], Database],
        *,
        stale_after: float,
        max_wait: float,
        window: float = RECENT_WINDOW,
        poll: float = 0.02,
        step: Step = _no_step,
    ) -> None:
        self._db = db
        self.stale_after, self.max_wait = stale_after, max_wait
        self.window, self.poll = window, poll
        self._step = step  # called at each protocol step: tests interleave requests there
        self._lock = threading.Lock()
        self._run: int | None = None
        self._observed_at = float("-inf")
        self._flush_pending = False
        self._recent: OrderedDict[str, tuple[float, datetime]] = OrderedDict()
        self._in_flight: Counter[str] = Counter()  # keys of requests not answered yet
        self._safe: set[str] = set()  # touched in this run and past any deleting mark

    @property
    def run(self) -> int | None:
        return self._run

    def observe(self, run: int | None) -> None:
        """Apply what the storage lease says now. For a new run, first record the keys used
        within the window as touched; raises (and the caller must not acknowledge) when that
        fails; the next call retries."""
        with self._lock:
            if run != self._run:
                self._run, self._safe = run, set()
                self._flush_pending = run is not None
            used: dict[str, datetime | None] = {}
            if self._flush_pending:
                used = {key: wall for key, (_, wall) in self._recent.items()}
                used.update(dict.fromkeys(self._in_flight))
        if run is not None and used:
            self._step("flush")
            gc_online.record_earlier_uses(self._db(), run, used)
        with self._lock:
            if self._run == run:
                self._flush_pending = False
            self._observed_at = time.monotonic()

    def refresh(self) -> None:
        """Read the lease now (a request found the heartbeat's view too old)."""
        self.observe(online_run(self._db()))

    def protect(self, keys: Iterable[str], strict: bool = True) -> None:
        """See registry.content.gc_guard. `strict`: the request makes a reference (a write)
        and fails with 503 when the database cannot be reached; otherwise (a blob read) it
        goes on without protection, which only costs the client an upload later."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return
        try:
            run, new = self._remember(wanted)
            if run is None or not new:
                return
            self._touch(run, new)
        except SQLAlchemyError as exc:
            if strict:
                raise Unavailable("the registry database is unavailable", retry_after=5) from exc
            log.warning("online GC: could not record a read's touch: %s", exc)

    @contextmanager
    def request_scope(self) -> Iterator[None]:
        """Around one request: the keys it protects while no run is active count as in
        flight until it is answered (a run that starts meanwhile keeps them)."""
        keys: list[str] = []
        token = _REQUEST_KEYS.set(keys)
        try:
            yield
        finally:
            _REQUEST_KEYS.reset(token)
            if keys:
                with self._lock:
                    self._in_flight.subtract(keys)
                    for key in keys:
                        if self._in_flight[key] <= 0:
                            del self._in_flight[key]

    def _remember(self, keys: list[str]) -> tuple[int | None, list[str]]:
        """Record the keys as recently used (and in flight) and return the run and the keys
        still to touch in it; one critical section, so `observe` either sees the keys or they
        see the run."""
        now, wall = time.monotonic(), utcnow()
        scope = _REQUEST_KEYS.get()
        with self._lock:
            for key in keys:
                self._recent[key] = (now, wall)
                self._recent.move_to_end(key)
            self._prune(now)
            stale = now - self._observed_at > self.stale_after
            run = self._run
            new = [key for key in keys if key not in self._safe]
            if run is None and scope is not None:
                scope.extend(keys)
                self._in_flight.update(keys)
        if stale:
            self.refresh()
            with self._lock:
                run = self._run
                new = [key for key in keys if key not in self._safe]
        return run, (new if run is not None else [])

    def _prune(self, now: float) -> None:
        recent, oldest = self._recent, now - self.window
        while recent and (len(recent) > RECENT_LIMIT or next(iter(recent.values()))[0] < oldest):
            recent.popitem(last=False)

    def _touch(self, run: int, keys: list[str]) -> None:
        """Commit the touches, then wait out any live deleting mark on the keys."""
        db = self._db()
        self._step("touch")
        gc_online.record_touches(db, run, keys)
        deadline = time.monotonic() + self.max_wait
        while True:
            self._step("check")
            busy = gc_online.deleting_now(db, keys)
            if not busy:
                break
            if time.monotonic() > deadline:
                raise Unavailable("garbage collection is deleting this content", retry_after=5)
            time.sleep(self.poll)
        with self._lock:
            if self._run == run:
                self._safe.update(keys)
