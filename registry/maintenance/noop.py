"""`noop`: does nothing in timed steps. Checks the task platform end to end (smoke tests,
benchmarks) and, with `fail_transient`, that retries work (an injected transient fault)."""

from __future__ import annotations

import time
from typing import Any

from registry.maintenance.progress import Progress
from registry.storage import StorageUnavailableError
from registry.tasks.params import NoopParams


def noop(params: NoopParams, attempt: int, progress: Progress) -> dict[str, Any]:
    if params.fail_permanent:
        raise ValueError("injected permanent fault")
    if attempt <= params.fail_transient:
        raise StorageUnavailableError(f"injected transient fault (attempt {attempt})")
    for _ in progress.iterate("steps", range(params.steps)):
        if params.step_seconds:
            time.sleep(params.step_seconds)
    return {"steps": params.steps, "attempt": attempt}
