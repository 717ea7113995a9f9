"""The tables of task kinds name the same kinds: what the API validates (KINDS), the time
limits the worker's main process declares tasks with (TIME_LIMITS) and what runs each kind
(EXECUTORS). A kind missing from one of them would be accepted and never run, or run with
no limits."""

from __future__ import annotations

from pydantic import BaseModel

from registry.maintenance.kinds import KINDS
from registry.maintenance.limits import TIME_LIMITS
from worker.executors import EXECUTORS


def test_every_table_names_the_same_kinds() -> None:
    assert list(TIME_LIMITS) == list(KINDS)
    assert list(EXECUTORS) == list(KINDS)


def test_each_kind_has_a_closed_params_model_and_sane_limits() -> None:
    for name, kind in KINDS.items():
        assert issubclass(kind.params, BaseModel), name
        assert kind.params.model_config.get("extra") == "forbid", name
        assert kind.description, name
        limits = TIME_LIMITS[name]
        assert 0 < limits.soft_time_limit < limits.time_limit, name
