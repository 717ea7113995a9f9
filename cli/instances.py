"""`hth-ctl stop|start docker_registry` and `hth-ctl instances`: registry instances by hand."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import quote

import click

from cli.output import echo_answer
from cli.tasks import api_client

SERVICES = click.Choice(["docker_registry"])


@click.command()
@click.argument("service", type=SERVICES)
@click.option("--instance", "instance_id", help="Only this instance (see `hth-ctl instances`).")
def stop(service: str, instance_id: str | None) -> None:
    """Stop the registry on every instance (or one): it answers 503 until started."""
    _change("stop", instance_id)


@click.command()
@click.argument("service", type=SERVICES)
@click.option("--instance", "instance_id", help="Only this instance (see `hth-ctl instances`).")
def start(service: str, instance_id: str | None) -> None:
    """Let the registry serve again on every instance (or one)."""
    _change("start", instance_id)


def _change(action: str, instance_id: str | None) -> None:
    path = (
        f"/api/v1/instances/{quote(instance_id, safe='')}" if instance_id else "/api/v1/instances"
    )
    result = api_client().post(f"{path}/{action}")
    click.echo(f"docker_registry: {result['state']} on {result['instances']} instance(s)")


@click.command("instances")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
@click.option(
    "--processes", "with_processes", is_flag=True, help="Also list each HTTP worker process."
)
def list_instances(as_json: bool, with_processes: bool) -> None:
    """Registry instances (servers), their state and the storage lease."""
    lines = partial(_instance_lines, with_processes=with_processes)
    echo_answer(api_client().get("/api/v1/instances"), as_json, lines)


def _instance_lines(cluster: dict[str, Any], with_processes: bool) -> Iterator[str]:
    yield f"{'ID':40}  {'LIVE':5}  {'STATE':9}  {'ASKED':9}  {'PROCS':5}  {'WRITES':6}  ADDRESS"
    for row in cluster["instances"]:
        yield (
            f"{row['id']:40}  {'yes' if row['live'] else 'no':5}  {row['state']:9}  "
            f"{row['admin_state']:9}  {row.get('processes', 1):5}  {row['inflight_writes']:6}  "
            f"{row['address']}"
        )
        if with_processes:
            for process in row.get("process_detail", []):
                yield f"  {_process_line(process)}"
    lease = cluster["storage_lease"]
    if lease:
        yield f"storage lease: {lease['mode']} by {lease['holder']} until {lease['expires_at']}"
    else:
        yield "storage lease: free"


def _process_line(process: dict[str, Any]) -> str:
    live = "live" if process["live"] else "dead"
    return (
        f"pid {process['pid']:<8} {live:4}  {process['state']:9}  lease token "
        f"{process['lease_token']}  {process['inflight_writes']} writes in flight"
    )
