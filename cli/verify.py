"""`hth-ctl verify-storage`: the storage scrub as a task, followed with a progress bar; the
exit code is 1 while corrupt data is left in place."""

from __future__ import annotations

from typing import Any

import click

from cli.output import echo_answer
from cli.tasks import api_client, wait_for
from registry.maintenance.backup.space import human


@click.command("verify-storage")
@click.option("--repair", is_flag=True, help="Move corrupt blob data into quarantine.")
@click.option(
    "--since",
    metavar="WHEN",
    help="Only blobs written since WHEN: an ISO date or datetime (UTC), or a duration (8d).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MBPS",
    help="Read at most MBPS megabytes per second (default: no limit).",
)
@click.option("--no-wait", is_flag=True, help="Print the task id and return at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the task's result as JSON.")
def verify_storage(
    repair: bool, since: str | None, rate_limit: float | None, no_wait: bool, as_json: bool
) -> None:
    """Re-hash every blob in storage; report (and with --repair quarantine) corrupt ones."""
    params: dict[str, Any] = {"repair": repair}
    if since is not None:
        params["since"] = since
    if rate_limit is not None:
        params["rate_limit"] = rate_limit
    client = api_client()
    body = {"kind": "verify_storage", "params": params, "trigger": "cli"}
    task = client.post("/api/v1/tasks", body)
    if no_wait:
        click.echo(task["id"])
        return
    click.echo(f"task {task['id']} (verify_storage)", err=True)
    done = wait_for(client, task["id"], timeout=None)
    result: dict[str, Any] | None = done.get("result")
    if result is not None:
        echo_answer(result, as_json, _report)
    if done["state"] != "succeeded":
        reason = f": {done['error']}" if done.get("error") else ""
        raise click.ClickException(f"task {done['id']} {done['state']}{reason}")


def _report(result: dict[str, Any]) -> list[str]:
    lines = []
    for bad in result["mismatches"]:
        used = ", ".join(bad["repositories"]) or "no repository"
        where = f" -> {bad['quarantined_to']}" if bad["quarantined_to"] else ""
        lines.append(f"{bad['state']}: {bad['digest']} ({used}): {bad['problem']}{where}")
    lines.append(
        f"{result['outcome']}: {result['blobs_checked']} blobs checked, "
        f"{human(result['bytes_read'])} read in {result['seconds']:.1f}s; {result['bad']} bad, "
        f"{result['quarantined']} quarantined, {result['corrupt_left']} left in place"
    )
    return lines
