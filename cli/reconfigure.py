"""`hth-ctl reconfigure`: apply hth.json to every running instance as a tracked task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.tasks import _finish, api_client, wait_for
from registry.config import discover_config_path, read_settings_file


@click.command()
@click.option("--file", "file", type=click.Path(dir_okay=False), help="hth.json to apply.")
@click.option("--migrate", is_flag=True, help="Copy all content to the new storage first.")
@click.option("--rollback", is_flag=True, help="Return to the previous configuration.")
@click.option("--no-wait", is_flag=True, help="Print the task id and return at once.")
def reconfigure(file: str | None, migrate: bool, rollback: bool, no_wait: bool) -> None:
    """Validate hth.json, probe its storage and apply it to every instance, without restart."""
    if rollback and file:
        raise click.UsageError("--rollback applies the previous generation; it takes no --file")
    params: dict[str, Any] = {"migrate": migrate, "rollback": rollback}
    if not rollback:
        obj = click.get_current_context().find_root().obj
        path = Path(file) if file else discover_config_path(getattr(obj, "config", None))
        if path is None:
            raise click.UsageError("no hth.json found: give --file or --config")
        read_settings_file(path)  # a bad file fails here, before anything is enqueued
        params["file"] = str(path.resolve())
    client = api_client()
    body = {"kind": "reconfigure", "params": params, "trigger": "cli"}
    task = client.post("/api/v1/tasks", body)
    click.echo(task["id"])
    if no_wait:
        return
    done = wait_for(client, task["id"], timeout=None)
    _print_table(done.get("result") or {})
    _finish(done)


def _print_table(result: dict[str, Any]) -> None:
    if "generation" not in result:
        return
    click.echo(f"configuration generation {result['generation']} ({result.get('source', '')})")
    for row in result.get("instances", []):
        click.echo(f"  {row['instance']:40}  {row['address']:28}  generation {row['generation']}")
    migration = result.get("migration")
    if migration:
        click.echo(
            f"migrated {migration['blobs_copied']} blobs ({migration['bytes_copied']} bytes, "
            f"{migration['mib_per_second']} MiB/s), {migration['metadata_copied']} metadata files"
        )
