"""The GC's work runs on a thread of lower CPU priority (worker/priority.py): its own and its
pool's threads are niced, the caller's is not, and results, errors and interruptions pass;
the worker's session (autogroup) is lowered while it runs and put back."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from worker import priority
from worker.priority import lowered_group, run_niced


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_work_and_the_threads_it_starts_run_lower_the_caller_does_not() -> None:
    before = _nice()

    def work() -> tuple[int, int]:
        with ThreadPoolExecutor(2) as pool:
            return _nice(), pool.submit(_nice).result()

    own, pooled = run_niced(work, 5, lambda: None)
    assert own == pooled == min(19, before + 5)
    assert _nice() == before  # the caller (a pool process's main thread) keeps its priority
    assert run_niced(_nice, 0, lambda: None) == before  # 0: on the caller's thread


def test_an_error_of_the_work_is_raised_to_the_caller() -> None:
    def work() -> None:
        raise ValueError("broken tree")

    with pytest.raises(ValueError, match="broken tree"):
        run_niced(work, 3, lambda: None)


def test_an_interrupted_caller_stops_the_work_and_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop, finished = threading.Event(), threading.Event()

    def work() -> None:
        stop.wait(10)
        finished.set()

    original = threading.Thread.join
    calls: list[str] = []

    def join(self: threading.Thread, timeout: float | None = None) -> None:
        calls.append(self.name)
        if len(calls) == 1:  # the caller's first wait is interrupted (a time limit's signal)
            raise TimeoutError("soft time limit")
        original(self, timeout)

    monkeypatch.setattr(threading.Thread, "join", join)
    with pytest.raises(TimeoutError):
        run_niced(work, 3, stop.set)
    assert finished.is_set(), "the work was still running when the caller went on"


def test_the_session_group_is_lowered_while_the_work_runs_and_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-42 nice 2\n")
    monkeypatch.setattr(priority, "AUTOGROUP", group)
    with lowered_group(10):
        assert group.read_text() == "12"  # the kernel reads the bare number
        group.write_text("/autogroup-42 nice 12\n")
    assert group.read_text() == "2"
    with lowered_group(30):
        assert group.read_text() == "19"  # at most 19
    with lowered_group(0):
        assert group.read_text() == "2"  # 0: untouched


def test_without_an_autogroup_the_work_runs_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(priority, "AUTOGROUP", tmp_path / "absent")
    with lowered_group(10):
        pass
    assert not (tmp_path / "absent").exists()


@pytest.mark.skipif(
    priority._group_nice() is None,
    reason="this process is in no autogroup (a CPU cgroup, or none in the kernel)",
)
def test_the_kernel_takes_the_session_niceness_and_gives_it_back() -> None:
    before = priority._group_nice()
    assert before is not None
    with lowered_group(3):
        assert priority._group_nice() == min(19, before + 3)
    assert priority._group_nice() == before
