"""`hth-ctl me` (who the CLI's token is and what it may do) and `hth-ctl me tokens ...`:
any user's own personal access tokens, through /api/v1/me."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from cli.durations import DurationArg
from cli.output import echo_answer
from cli.tasks import api_client
from cli.tokens import print_tokens, show_created, token_body
from cli.users import format_grants


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
@click.pass_context
def me(ctx: click.Context, as_json: bool) -> None:
    """Who you are (the CLI's token) and your own tokens: `hth-ctl me tokens --help`."""
    if ctx.invoked_subcommand is not None:
        return
    echo_answer(api_client().get("/api/v1/me"), as_json, _who_lines)


def _who_lines(who: dict[str, Any]) -> Iterator[str]:
    role = "admin" if who["admin"] else who["kind"]
    yield f"{who['username']} ({role})"
    yield f"grants: {format_grants(who['permissions']) or '-'}"
    yield f"public: {format_grants(who['public']) or '-'}"
    token = who.get("token")
    if token:
        limits = format_grants(token["permissions"]) or "all your rights"
        yield f"token:  {token['id']} {token['name']!r}, limited to {limits}"


@me.group("tokens")
def my_tokens() -> None:
    """Your personal access tokens: list, create (shown once), revoke."""


@my_tokens.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Also revoked and expired ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
def list_mine(include_revoked: bool, as_json: bool) -> None:
    page = api_client().get("/api/v1/me/tokens", include_revoked=include_revoked or None)
    print_tokens(page, as_json)


@my_tokens.command("create")
@click.argument("name")
@click.option("--expires-in", type=DurationArg(), help="A duration such as 720h (default: never).")
@click.option(
    "--grant", "grants", multiple=True, help="Limit it: NAMESPACE=pull,push (repeatable)."
)
@click.option("--save", is_flag=True, help="Also keep it as this CLI's token (0600 file).")
def create_mine(name: str, expires_in: str | None, grants: tuple[str, ...], save: bool) -> None:
    """Create a token of yours, never with more rights than you have; printed once."""
    show_created(api_client().post("/api/v1/me/tokens", token_body(name, expires_in, grants)), save)


@my_tokens.command("revoke")
@click.argument("token_id")
def revoke_mine(token_id: str) -> None:
    """Revoke one of your tokens at once (registry tokens issued from it stop too)."""
    api_client().delete(f"/api/v1/me/tokens/{token_id}")
    click.echo(f"revoked {token_id}")
