"""registry.maintenance.progress: throttled reports, logs and cooperative cancellation."""

from __future__ import annotations

import pytest

from registry.maintenance.progress import Progress, ProgressState, TaskCancelled


class Sink:
    def __init__(self) -> None:
        self.states: list[ProgressState] = []
        self.lines: list[str] = []
        self.cancel = False

    def report(self, state: ProgressState) -> None:
        self.states.append(state)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def cancel_requested(self) -> bool:
        return self.cancel


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reports_are_throttled_but_phase_changes_and_completion_go_through() -> None:
    sink, clock = Sink(), Clock()
    progress = Progress(sink, min_interval=1.0, clock=clock)
    progress("scan", 0, None)  # first report: sent
    progress("scan", 1, None)  # within the interval: held back
    clock.now = 1.5
    progress("scan", 2, None)  # interval elapsed: sent
    progress("purge", 0, 2)  # new phase: sent
    progress("purge", 1, 2)  # held back
    progress("purge", 2, 2)  # completion: sent
    assert [(s.phase, s.done) for s in sink.states] == [
        ("scan", 0),
        ("scan", 2),
        ("purge", 0),
        ("purge", 2),
    ]


def test_flush_sends_the_latest_state() -> None:
    sink = Sink()
    progress = Progress(sink, min_interval=60)
    progress("copy", 0, 10)
    progress("copy", 7, 10)
    progress.flush()
    assert sink.states[-1] == ProgressState("copy", 7, 10)
    assert sink.states[-1].as_dict() == {"phase": "copy", "done": 7, "total": 10}


def test_a_cancel_request_stops_at_the_next_report() -> None:
    sink = Sink()
    progress = Progress(sink, min_interval=60)
    seen = []
    with pytest.raises(TaskCancelled):
        for item in progress.iterate("work", ["a", "b", "c"]):
            seen.append(item)
            sink.cancel = item == "b"
    assert seen == ["a", "b"]


def test_a_progress_without_sink_only_counts() -> None:
    progress = Progress()
    assert list(progress.iterate("work", [1, 2])) == [1, 2]
    progress.log("ignored")
    assert progress.current == ProgressState("work", 2, 2)
    assert not progress.should_stop()
