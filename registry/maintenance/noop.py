"""`noop`: does nothing in timed steps. Checks the task platform end to end (smoke tests,
benchmarks) and, with `fail_transient`, that retries work (an injected transient fault)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.maintenance.progress import Progress
from registry.storage import StorageUnavailableError


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=1, ge=0, le=100_000)
    step_seconds: float = Field(default=0.0, ge=0.0, le=60.0)
    # Fault injection: the first `fail_transient` attempts raise a transient storage error.
    fail_transient: int = Field(default=0, ge=0, le=100)
    # Fault injection: every attempt fails with a permanent error.
    fail_permanent: bool = False


def noop(params: Params, attempt: int, progress: Progress) -> dict[str, Any]:
    if params.fail_permanent:
        raise ValueError("injected permanent fault")
    if attempt <= params.fail_transient:
        raise StorageUnavailableError(f"injected transient fault (attempt {attempt})")
    for _ in progress.iterate("steps", range(params.steps)):
        if params.step_seconds:
            time.sleep(params.step_seconds)
    return {"steps": params.steps, "attempt": attempt}
