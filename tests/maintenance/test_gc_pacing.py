"""registry/maintenance/gc/pacing.py: an online GC pauses between units of work while other
processes keep the CPU busy, long enough to work only its share of the time; it never
pauses when they do not, at a share of 1, or where the CPU times cannot be read."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from registry.maintenance.gc import collect, sweep
from registry.maintenance.gc.pacing import CpuTimes, Pacer, read_cpu_times
from registry.maintenance.gc.run import GCOptions
from registry.maintenance.gc.workers import Work
from tests.maintenance.trees import NO_GRACE, Tree, garbage_tree


class Machine:
    """A clock, the CPU times /proc would show and a sleep that only advances the clock."""

    def __init__(self) -> None:
        self.now, self.busy, self.own = 0.0, 0.0, 0.0
        self.slept: list[float] = []

    def run(self, seconds: float, own_cpus: float, other_cpus: float) -> None:
        self.now += seconds
        self.own += seconds * own_cpus
        self.busy += seconds * (own_cpus + other_cpus)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def pacer(self, share: float) -> Pacer:
        return Pacer(
            share,
            read=lambda: CpuTimes(self.busy, self.own),
            clock=lambda: self.now,
            sleep=self.sleep,
        )


def test_busy_others_make_the_gc_work_its_share_of_the_time() -> None:
    machine = Machine()
    pace = machine.pacer(0.25)
    for _ in range(8):
        machine.run(0.3, own_cpus=1.5, other_cpus=0.6)
        pace()
    assert len(machine.slept) == 8 and all(abs(s - 0.9) < 1e-9 for s in machine.slept)
    working = 8 * 0.3
    assert abs(working / machine.now - 0.25) < 1e-9
    assert abs(pace.paused - 8 * 0.9) < 1e-9


def test_a_long_unit_of_work_pauses_at_most_max_pause() -> None:
    machine = Machine()
    pace = machine.pacer(0.1)
    machine.run(20.0, own_cpus=1, other_cpus=1)  # one slow claim on slow storage
    pace()
    assert machine.slept == [5.0]


def test_no_pause_when_others_are_idle_or_the_share_is_whole() -> None:
    machine = Machine()
    idle, whole = machine.pacer(0.25), machine.pacer(1.0)
    for _ in range(8):
        machine.run(0.3, own_cpus=2.0, other_cpus=0.2)  # the GC alone saturates the machine
        idle()
        whole()
    assert machine.slept == [] and idle.paused == 0 and whole.paused == 0


def test_it_measures_at_most_once_per_window() -> None:
    machine = Machine()
    reads = []

    def read() -> CpuTimes:
        reads.append(machine.now)
        return CpuTimes(machine.busy, machine.own)

    pace = Pacer(0.5, read=read, clock=lambda: machine.now, sleep=machine.sleep)
    for _ in range(100):
        machine.run(0.01, own_cpus=1, other_cpus=1)
        pace()
    assert 3 <= len(reads) <= 1 + 2 * (100 * 0.01 / 0.25) + 1  # window 0.25 s, plus the pauses


def test_unreadable_cpu_times_never_pause() -> None:
    machine = Machine()
    pace = Pacer(0.1, read=lambda: None, clock=lambda: machine.now, sleep=machine.sleep)
    machine.run(5, own_cpus=1, other_cpus=2)
    pace()
    assert machine.slept == []


def _burn(cpu_seconds: float) -> None:
    while time.process_time() < cpu_seconds:  # CPU time, however loaded the machine
        pass


def test_the_real_cpu_times_see_another_process_burn() -> None:
    first = read_cpu_times()
    assert first is not None
    child = multiprocessing.get_context("spawn").Process(target=_burn, args=(0.8,))
    child.start()
    child.join()
    second = read_cpu_times()
    assert second is not None
    others = (second.machine - first.machine) - (second.own - first.own)
    assert others >= 0.8  # the child's CPU, not ours
    assert second.own - first.own < 0.5


def test_work_pauses_between_units_not_inside_them() -> None:
    calls: list[str] = []
    work = Work(2, pace=lambda: calls.append("pace"))
    try:
        assert list(work.map(lambda x: x * 2, [1, 2, 3])) == [2, 4, 6]
    finally:
        work.close()
    assert calls == ["pace"] * 3


class RecordingFence:
    """Lets every key go, and notes when each claim opens and closes."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    @contextmanager
    def claim(self, keys: Collection[str]) -> Iterator[Callable[[str], bool]]:
        self.events.append("claim")
        try:
            yield lambda key: True
        finally:
            self.events.append("end")


class RecordingPacer:
    def __init__(self, events: list[str]) -> None:
        self.events, self.paused = events, 0.0

    def __call__(self) -> None:
        self.events.append("pace")


def test_the_sweep_pauses_between_its_claims_never_within_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim's deleting marks expire: a pause inside one would stop the sweep (as a first
    version of pacing did in the cluster tests)."""
    tree = Tree(tmp_path)
    garbage_tree(tree)
    events: list[str] = []
    monkeypatch.setattr(sweep, "CLAIM_KEYS", 2)  # many claims
    monkeypatch.setattr(collect, "Pacer", lambda share: RecordingPacer(events))
    options = GCOptions(grace_period=NO_GRACE, share_while_busy=0.5)
    result = collect.collect_garbage(tree.driver, options, fence=RecordingFence(events))
    assert not result.cancelled and result.blobs_deleted > 0
    opened = 0
    for event in events:
        opened += {"claim": 1, "end": -1}.get(event, 0)
        assert event != "pace" or opened == 0, events
    claims = events.count("claim")
    assert claims >= 3 and events.count("pace") >= claims  # before each claim, and the mark's
