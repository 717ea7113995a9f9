"""`hth-ctl status`: instances, workers, queue depth, running and recent tasks, last GC and
backup, as the REST API's /api/v1/status reports them."""

from __future__ import annotations

from typing import Any

import click

from cli.output import echo_answer, short_time
from cli.tasks import _progress_text, api_client
from registry.words import plural


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
def status(as_json: bool) -> None:
    """The platform at a glance."""
    echo_answer(api_client().get("/api/v1/status"), as_json, render)


def render(answer: dict[str, Any]) -> list[str]:
    lines = ["INSTANCES"]
    for row in answer["instances"]:
        live = "live" if row["live"] else "dead"
        processes = plural(row.get("processes", 1), "process", "processes")
        lines.append(
            f"  {row['id']:40}  {live:4}  {row['state']:9}  {processes:13}  {row['address']}"
        )
    lease = answer["storage_lease"]
    held = f"{lease['mode']} by {lease['holder']}" if lease else "free"
    lines.append(f"  storage lease: {held}")
    gc_run = answer.get("gc_run")
    if gc_run:
        lines.append(f"  {_gc_run_line(gc_run)}")
    workers = answer["workers"]
    lines.append(f"WORKERS ({len(workers['names'])})")
    lines += [f"  {name}" for name in workers["names"]]
    if workers.get("error"):
        lines.append(f"  (cannot ask the workers: {workers['error']})")
    lines.append(f"QUEUE DEPTH  {answer['queue_depth']}")
    lines.append("RUNNING")
    lines += [_task_line(task) for task in answer["running"]] or ["  (none)"]
    lines.append("RECENT")
    lines += [_task_line(task) for task in answer["recent"]] or ["  (none)"]
    for kind, last in answer["last"].items():
        task = last["task"]
        newest = f"{task['state']} at {_when(task)}" if task else "never run"
        success = short_time(last["last_success_at"]) if last["last_success_at"] else "never"
        lines.append(f"LAST {kind.upper():7} {newest}; last success {success}")
    return lines


def _gc_run_line(run: dict[str, Any]) -> str:
    """The newest online GC: its phase, and how many keys writes kept during it."""
    state = f"ended {short_time(run['finished_at'])}" if run["finished_at"] else "running"
    return (
        f"online GC run {run['run']} (task {run['task_id']}): {state}, phase {run['phase']}, "
        f"{plural(run['kept_by_writes'], 'item')} kept because writes used them"
    )


def _task_line(task: dict[str, Any]) -> str:
    return f"  {task['id']:36}  {task['kind']:14}  {task['state']:10}  {_progress_text(task)}"


def _when(task: dict[str, Any]) -> str:
    return short_time(task["finished_at"] or task["started_at"] or task["created_at"])
