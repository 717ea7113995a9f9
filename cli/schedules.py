"""`hth-ctl schedules ...`: periodic tasks (cron, UTC) through the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from cli.output import echo_answer, echo_json, short_time
from cli.tasks import api_client, parse_params


@click.group()
def schedules() -> None:
    """Periodic tasks: list, show, add, set, enable, disable, delete."""


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON page.")
def list_schedules(as_json: bool) -> None:
    echo_answer(api_client().get("/api/v1/schedules", limit=500), as_json, _schedule_lines)


def _schedule_lines(page: dict[str, Any]) -> Iterator[str]:
    yield f"{'ID':36}  {'KIND':14}  {'CRON':16}  {'ENABLED':7}  NEXT RUN"
    for item in page["items"]:
        next_run = short_time(item["next_run_at"] or "-")
        enabled = "yes" if item["enabled"] else "no"
        yield f"{item['id']:36}  {item['kind']:14}  {item['cron']:16}  {enabled:7}  {next_run}"


@schedules.command()
@click.argument("schedule_id")
def show(schedule_id: str) -> None:
    echo_json(api_client().get(f"/api/v1/schedules/{schedule_id}"))


@schedules.command()
@click.argument("kind")
@click.argument("cron")
@click.option("--params", "params_json", help="Parameters as a JSON object.")
@click.option("-p", "pairs", multiple=True, metavar="KEY=VALUE", help="One parameter.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
def add(
    kind: str, cron: str, params_json: str | None, pairs: tuple[str, ...], disabled: bool
) -> None:
    """Run KIND on CRON (5 fields, UTC), e.g. add purge_uploads "0 3 * * *"."""
    body = {
        "kind": kind,
        "params": parse_params(params_json, pairs),
        "cron": cron,
        "enabled": not disabled,
    }
    click.echo(api_client().post("/api/v1/schedules", body)["id"])


@schedules.command("set")
@click.argument("schedule_id")
@click.option("--cron", help="A new cron expression (5 fields, UTC).")
@click.option("--params", "params_json", help="New parameters (a JSON object; replaces all).")
@click.option("-p", "pairs", multiple=True, metavar="KEY=VALUE", help="Set one parameter.")
def set_schedule(
    schedule_id: str, cron: str | None, params_json: str | None, pairs: tuple[str, ...]
) -> None:
    """Change a schedule's cron or parameters."""
    _change(schedule_id, cron=cron, params_json=params_json, pairs=pairs)


@schedules.command()
@click.argument("schedule_id")
def enable(schedule_id: str) -> None:
    _change(schedule_id, enabled=True)


@schedules.command()
@click.argument("schedule_id")
def disable(schedule_id: str) -> None:
    _change(schedule_id, enabled=False)


@schedules.command()
@click.argument("schedule_id")
def delete(schedule_id: str) -> None:
    api_client().delete(f"/api/v1/schedules/{schedule_id}")
    click.echo(f"{schedule_id}: deleted")


def _change(
    schedule_id: str,
    *,
    cron: str | None = None,
    params_json: str | None = None,
    pairs: tuple[str, ...] = (),
    enabled: bool | None = None,
) -> None:
    client = api_client()
    current: dict[str, Any] = client.get(f"/api/v1/schedules/{schedule_id}")
    params = current["params"] if params_json is None else parse_params(params_json, ())
    params.update(parse_params(None, pairs))
    body = {
        "kind": current["kind"],
        "params": params,
        "cron": cron or current["cron"],
        "enabled": current["enabled"] if enabled is None else enabled,
    }
    updated = client.put(f"/api/v1/schedules/{schedule_id}", body)
    state = "enabled" if updated["enabled"] else "disabled"
    click.echo(f"{schedule_id}: {updated['cron']} {state}")
