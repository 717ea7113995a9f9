"""parts.InFlight: parts go on the wire a few at a time, failures surface once all have ended."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.storage.parts import InFlight


def test_at_most_limit_calls_run_at_once_and_drain_waits_for_all() -> None:
    lock, running, peak, done = threading.Lock(), [0], [0], []
    release = threading.Event()

    def call(index: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
            done.append(index)

    with ThreadPoolExecutor(8) as pool:
        calls = InFlight(pool, 3)
        for index in range(3):
            calls.submit(lambda index=index: call(index))  # type: ignore[misc]
        threading.Timer(0.2, release.set).start()
        for index in range(3, 10):  # each waits for a free slot
            calls.submit(lambda index=index: call(index))  # type: ignore[misc]
        calls.drain()
        assert sorted(done) == list(range(10))
    assert peak[0] == 3


def test_a_failed_call_raises_from_drain_after_the_others_finished() -> None:
    finished = []

    def fail() -> None:
        raise OSError("part refused")

    def slow() -> None:
        threading.Event().wait(0.2)
        finished.append("slow")

    with ThreadPoolExecutor(4) as pool:
        calls = InFlight(pool, 4)
        calls.submit(fail)
        calls.submit(slow)
        assert not calls.failed
        with pytest.raises(OSError, match="part refused"):
            calls.drain()
        assert finished == ["slow"]
        assert calls.failed
        calls.drain()  # nothing left: no second raise


def test_a_failed_call_raises_from_the_submit_that_waits_on_it() -> None:
    def fail() -> None:
        raise OSError("part refused")

    with ThreadPoolExecutor(2) as pool:
        calls = InFlight(pool, 1)
        calls.submit(fail)
        with pytest.raises(OSError, match="part refused"):
            calls.submit(lambda: None)
        assert calls.failed
        calls.drain()


def test_settle_waits_for_every_call_and_raises_nothing() -> None:
    finished = []

    def fail() -> None:
        raise OSError("part refused")

    def slow() -> None:
        threading.Event().wait(0.2)
        finished.append("slow")

    with ThreadPoolExecutor(4) as pool:
        calls = InFlight(pool, 4)
        calls.submit(fail)
        calls.submit(slow)
        calls.settle()
        assert finished == ["slow"]
        assert calls.failed
