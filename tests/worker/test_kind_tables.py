"""The tables of task kinds name the same kinds: what the API validates (KINDS), the time
limits the worker's main process declares tasks with (TIME_LIMITS) and what runs each kind
(EXECUTORS). A kind missing from one of them would be accepted and never run, or run with
no limits. The first two load no algorithm."""

from __future__ import annotations

import json
import subprocess
import sys

from pydantic import BaseModel

from registry.tasks.kinds import KINDS
from registry.tasks.limits import TIME_LIMITS
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


VALIDATE_EVERY_KIND = """
import json, sys
from registry.tasks.kinds import KINDS, validate_params
from registry.tasks.limits import TIME_LIMITS
needed = {"restore": {"backup_id": "x"}, "backup_export": {"file": "/x"}}
needed["retention"] = {"policy": "p"}
for kind in KINDS:
    validate_params(kind, needed.get(kind, {}))
ours = ("registry.maintenance", "registry.tasks", "worker")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(ours))))
"""


def test_validating_params_of_every_kind_loads_no_algorithm() -> None:
    found = subprocess.run(
        [sys.executable, "-c", VALIDATE_EVERY_KIND], capture_output=True, text=True, check=True
    )
    loaded = json.loads(found.stdout.splitlines()[-1])
    assert loaded == [
        "registry.tasks",
        "registry.tasks.errors",
        "registry.tasks.kinds",
        "registry.tasks.limits",
        "registry.tasks.params",
    ]
