"""`hth-ctl tasks ...`: start, list, inspect, wait for, cancel and retry tasks (REST API)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import click
from tqdm import tqdm

from cli.client import ApiClient
from cli.output import echo_answer, echo_json, short_time
from registry.config import load_settings

FINISHED = ("succeeded", "failed", "cancelled")


def api_client() -> ApiClient:
    obj = click.get_current_context().find_root().obj
    return ApiClient.from_settings(load_settings(getattr(obj, "config", None)))


def parse_params(params_json: str | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """--params '{"a": 1}' and/or -p a=1 (values read as JSON when they parse, else text)."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("expected a JSON object", param_hint="--params")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="-p")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _progress_text(task: dict[str, Any]) -> str:
    progress = task.get("progress") or {}
    if not progress:
        return ""
    total = progress.get("total")
    note = f" ({progress['note']})" if progress.get("note") else ""
    return f"{progress['phase']} {progress['done']}/{total if total is not None else '?'}{note}"


@click.group()
def tasks() -> None:
    """Maintenance tasks: start, list, show, log, wait, cancel, retry."""


@tasks.command("list")
@click.option("--kind", help="Only tasks of this kind.")
@click.option("--state", help="Only tasks in this state (queued, running, failed, ...).")
@click.option("--schedule", help="Only tasks fired by this schedule.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON page.")
def list_tasks(
    kind: str | None, state: str | None, schedule: str | None, limit: int, as_json: bool
) -> None:
    """The newest tasks first."""
    query = {"kind": kind, "state": state, "schedule": schedule, "limit": limit}
    echo_answer(api_client().get("/api/v1/tasks", **query), as_json, _task_lines)


def _task_lines(page: dict[str, Any]) -> Iterator[str]:
    yield f"{'ID':36}  {'KIND':14}  {'STATE':10}  {'TRY':5}  {'CREATED':20}  PROGRESS"
    for task in page["items"]:
        attempts = f"{task['attempts']}/{task['max_attempts']}"
        created = short_time(task["created_at"])
        yield (
            f"{task['id']:36}  {task['kind']:14}  {task['state']:10}  {attempts:5}  "
            f"{created:20}  {_progress_text(task)}"
        )


@tasks.command()
@click.argument("task_id")
def show(task_id: str) -> None:
    """The task record as JSON."""
    echo_json(api_client().get(f"/api/v1/tasks/{task_id}"))


@tasks.command()
@click.argument("task_id")
def log(task_id: str) -> None:
    """The task's log lines."""
    click.echo(api_client().text(f"/api/v1/tasks/{task_id}/log"), nl=False)


@tasks.command()
@click.argument("kind")
@click.option("--params", "params_json", help="Parameters as a JSON object.")
@click.option("-p", "pairs", multiple=True, metavar="KEY=VALUE", help="One parameter.")
@click.option("--wait", is_flag=True, help="Wait until it ends (progress bar on a terminal).")
def start(kind: str, params_json: str | None, pairs: tuple[str, ...], wait: bool) -> None:
    """Enqueue a task of KIND (e.g. purge_uploads -p dry_run=true)."""
    client = api_client()
    body = {"kind": kind, "params": parse_params(params_json, pairs), "trigger": "cli"}
    task = client.post("/api/v1/tasks", body)
    click.echo(task["id"])
    if wait:
        _finish(wait_for(client, task["id"], timeout=None))


@tasks.command()
@click.argument("task_id")
def cancel(task_id: str) -> None:
    """Cancel a waiting task, or ask a running one to stop."""
    task = api_client().post(f"/api/v1/tasks/{task_id}/cancel")
    click.echo(f"{task_id}: {task['state']}")


@tasks.command()
@click.argument("task_id")
@click.option("--wait", is_flag=True, help="Wait until the new task ends.")
def retry(task_id: str, wait: bool) -> None:
    """Run a failed or cancelled task again (prints the new task's id)."""
    client = api_client()
    task = client.post(f"/api/v1/tasks/{task_id}/retry")
    click.echo(task["id"])
    if wait:
        _finish(wait_for(client, task["id"], timeout=None))


@tasks.command()
@click.argument("task_id")
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 1).")
def wait(task_id: str, timeout: float | None) -> None:
    """Wait until the task ends; exit 0 only if it succeeded."""
    _finish(wait_for(api_client(), task_id, timeout))


def _finish(task: dict[str, Any]) -> None:
    if task["state"] == "succeeded":
        click.echo(f"{task['id']}: succeeded")
        return
    reason = f": {task['error']}" if task.get("error") else ""
    raise click.ClickException(f"task {task['id']} {task['state']}{reason}")


def wait_for(
    client: ApiClient, task_id: str, timeout: float | None, interval: float = 0.5
) -> dict[str, Any]:
    """Poll until the task ends, drawing a progress bar on a terminal (stderr)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    tty = sys.stderr.isatty()
    bar = tqdm(total=None, file=sys.stderr, disable=not tty, unit="", dynamic_ncols=True)
    last_state = ""
    try:
        while True:
            task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}")
            _draw(bar, task)
            if not tty and task["state"] != last_state:
                click.echo(f"{task_id}: {task['state']} {_progress_text(task)}".rstrip(), err=True)
            last_state = task["state"]
            if task["state"] in FINISHED:
                return task
            if deadline is not None and time.monotonic() > deadline:
                raise click.ClickException(f"task {task_id} still {task['state']} after {timeout}s")
            time.sleep(interval)
    finally:
        bar.close()


def run_task(
    kind: str,
    params: dict[str, Any],
    on_failure: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Enqueue, follow, and return the result; exit 1 with the task's error if it fails
    (after `on_failure(result)` when the failed task kept a result: what it found)."""
    client = api_client()
    task = client.post("/api/v1/tasks", {"kind": kind, "params": params, "trigger": "cli"})
    click.echo(f"task {task['id']} ({kind})", err=True)
    done = wait_for(client, task["id"], timeout=None)
    if done["state"] != "succeeded":
        if on_failure is not None and done.get("result"):
            on_failure(done["result"])
        reason = f": {done['error']}" if done.get("error") else ""
        raise click.ClickException(f"task {done['id']} {done['state']}{reason}")
    result: dict[str, Any] = done["result"] or {}
    return result


def _draw(bar: tqdm[Any], task: dict[str, Any]) -> None:
    progress = task.get("progress") or {}
    bar.set_description(f"{task['state']} {progress.get('phase', '')}".strip())
    bar.total = progress.get("total")
    bar.n = progress.get("done", 0)
    bar.refresh()
