"""A task kind added as docs/architecture.md says ("How to add a task kind"): its params
model, its algorithm, one row in each of KINDS, TIME_LIMITS and EXECUTORS (for this test
only), then asked for through the REST API and run by a Celery worker as any kind is: the
record, the message, the worker's runner and the result, with nothing named by a string
but the kind itself."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from pydantic import BaseModel, ConfigDict, Field

from api.app import create_app
from registry.config import parse_settings
from registry.maintenance.progress import Progress
from registry.tasks.kinds import KINDS, TaskKind
from registry.tasks.limits import TIME_LIMITS, TimeLimits
from testbed.task_platform import FINISHED, wait_until
from worker.celery_app import create_celery
from worker.context import TaskContext
from worker.executors import EXECUTORS
from worker.tasks import register_tasks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for `httpx2`; the httpx it falls back to works
    from fastapi.testclient import TestClient


class EchoParams(BaseModel):
    """Step 1: the params model (in registry/tasks/params.py for a real kind)."""

    model_config = ConfigDict(extra="forbid")

    word: str = "echo"
    times: int = Field(default=1, ge=1, le=10)


def echo(params: EchoParams, progress: Progress) -> dict[str, Any]:
    """Step 2: the algorithm, a plain function: no Celery, no database."""
    said = [params.word for _ in progress.iterate("saying", range(params.times))]
    return {"said": " ".join(said)}


def run_echo(ctx: TaskContext) -> dict[str, Any]:
    """Step 5: the executor (a row of worker/executors.py:EXECUTORS)."""
    return echo(EchoParams.model_validate(ctx.params), ctx.progress)


@pytest.fixture
def echo_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps 3 to 5: one row in each table, for this test only."""
    monkeypatch.setitem(KINDS, "echo", TaskKind(EchoParams, "says a word, a few times"))
    monkeypatch.setitem(TIME_LIMITS, "echo", TimeLimits(60, 90))
    monkeypatch.setitem(EXECUTORS, "echo", run_echo)


def _finished(http: TestClient, task_id: str) -> dict[str, Any] | None:
    task: dict[str, Any] = http.get(f"/api/v1/tasks/{task_id}").json()
    return task if task["state"] in FINISHED else None


@pytest.fixture
def root_logger_kept() -> Iterator[None]:
    """Celery's test worker sets the root logger's level (ERROR) and handlers: later tests
    that read WARNING records with caplog would find none. Put them back."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.usefixtures("echo_kind", "root_logger_kept")
def test_a_kind_added_by_the_recipe_is_validated_queued_and_run(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path / "var")})
    worker = create_celery(settings)
    register_tasks(worker)
    assert "hth.echo" in worker.tasks  # the name Flower shows

    with TestClient(create_app(settings), base_url="http://registry.test") as http:
        refused = http.post("/api/v1/tasks", json={"kind": "echo", "params": {"times": 0}})
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith("params.times: ")
        created = http.post("/api/v1/tasks", json={"kind": "echo", "params": {"times": 3}})
        assert created.status_code == 202, created.text
        task_id = created.json()["id"]
        # A real Celery worker (its solo pool, in a thread), consuming the message the API sent.
        with start_worker(worker, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            done = wait_until(lambda: _finished(http, task_id), what="the echo task finished")

    assert (done["state"], done["attempts"], done["error"]) == ("succeeded", 1, None)
    assert done["result"] == {"said": "echo echo echo"}
    assert done["progress"] == {"phase": "saying", "done": 3, "total": 3, "note": None}


def test_a_kind_in_no_table_is_refused_by_name(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path / "var")})
    with TestClient(create_app(settings), base_url="http://registry.test") as http:
        response = http.post("/api/v1/tasks", json={"kind": "echo"})
    assert response.status_code == 422
    assert "unknown task kind 'echo'" in response.json()["detail"]
