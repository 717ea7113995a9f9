"""`hth-ctl protect list|add|delete`: immutable-tag rules through the REST API."""

from __future__ import annotations

from typing import Any

import click

from cli.output import echo_answer, short_time, table
from cli.tasks import api_client

PATH = "/api/v1/tag-protections"


@click.group()
def protect() -> None:
    """Immutable tags: a protected tag is created by its first push and then never moved
    or deleted (412 DENIED), and retention never deletes it."""


@protect.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")
def list_rules(as_json: bool) -> None:
    echo_answer(api_client().get(PATH), as_json, _rule_lines)


def _rule_lines(page: dict[str, Any]) -> list[str]:
    rows = [("NAME", "REPOSITORIES", "TAGS", "CREATED BY", "CREATED")]
    for item in page["items"]:
        created = short_time(item["created_at"])
        rows.append((item["name"], item["repositories"], item["tags"], item["created_by"], created))
    return table(rows)


@protect.command()
@click.argument("name")
@click.argument("repositories")
@click.argument("tags")
def add(name: str, repositories: str, tags: str) -> None:
    r"""Protect TAGS (a regular expression the whole tag must match) in the repositories
    the glob REPOSITORIES selects, e.g. add releases 'team/**' 'v\d+\.\d+\.\d+'."""
    body = {"name": name, "repositories": repositories, "tags": tags}
    created = api_client().post(PATH, body)
    click.echo(f"{created['name']}: tags matching {created['tags']} in {created['repositories']}")


@protect.command()
@click.argument("name")
def delete(name: str) -> None:
    """Remove rule NAME: its tags can be moved and deleted again."""
    api_client().delete(f"{PATH}/{name}")
    click.echo(f"{name}: deleted")
