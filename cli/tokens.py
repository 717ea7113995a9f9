"""`hth-ctl tokens ...` (every user's personal and robot tokens: admins) and `hth-ctl login`,
which trades a user's password for a token of theirs kept in the 0600 token file."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import click

from cli.client import ApiClient, base_url
from cli.credentials import save_token
from cli.durations import DurationArg
from cli.output import echo_answer, short_time
from cli.tasks import api_client
from cli.users import format_grants, parse_grant, read_password
from registry.config import load_settings


@click.group()
def tokens() -> None:
    """Every user's personal and robot tokens (admins; your own: `hth-ctl me tokens`)."""


@tokens.command("list")
@click.option("--user", help="Only this user's tokens.")
@click.option("--all", "include_revoked", is_flag=True, help="Also revoked and expired ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
def list_tokens(user: str | None, include_revoked: bool, as_json: bool) -> None:
    query = {"user": user, "include_revoked": include_revoked or None}
    page = api_client().get("/api/v1/tokens", **query)
    print_tokens(page, as_json)


def print_tokens(page: dict[str, Any], as_json: bool) -> None:
    """A token page as a table (or its JSON): never a secret, the API sends none."""
    echo_answer(page, as_json, _token_lines)


def _token_lines(page: dict[str, Any]) -> Iterator[str]:
    yield f"{'ID':16}  {'USER':24}  {'KIND':8}  {'EXPIRES':20}  {'LIVE':4}  {'LIMITS':20}  NAME"
    for token in page["items"]:
        expires = short_time(token["expires_at"] or "never")
        live = "yes" if token["live"] else "no"
        limits = format_grants(token.get("permissions")) or "-"
        yield (
            f"{token['id']:16}  {token['user']:24}  {token['kind']:8}  {expires:20}  "
            f"{live:4}  {limits:20}  {token['name']}"
        )


def token_body(name: str, expires_in: str | None, grants: tuple[str, ...]) -> dict[str, Any]:
    """The body of a token creation: --grant NAMESPACE=ACTIONS limits it."""
    body: dict[str, Any] = {"name": name}
    if expires_in:
        body["expires_in"] = expires_in
    if grants:
        body["permissions"] = [parse_grant(g) for g in grants]
    return body


def show_created(created: dict[str, Any], save: bool) -> None:
    click.echo(f"token {created['id']} for {created['user']} (shown only now):")
    click.echo(created["token"])
    if save:
        click.echo(f"saved to {save_token(created['token'])}", err=True)


@tokens.command("create")
@click.argument("name")
@click.option("--user", help="Whose token (default: yours).")
@click.option("--expires-in", type=DurationArg(), help="A duration such as 720h (default: never).")
@click.option(
    "--grant", "grants", multiple=True, help="Limit it: NAMESPACE=pull,push (repeatable)."
)
@click.option("--save", is_flag=True, help="Also keep it as this CLI's token (0600 file).")
def create_token(
    name: str, user: str | None, expires_in: str | None, grants: tuple[str, ...], save: bool
) -> None:
    """Create a token; its text is printed now and never again."""
    body = token_body(name, expires_in, grants)
    if user:
        body["user"] = user
    show_created(api_client().post("/api/v1/tokens", body), save)


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke at once (registry tokens issued from it stop working too)."""
    api_client().delete(f"/api/v1/tokens/{token_id}")
    click.echo(f"revoked {token_id}")


@click.command()
@click.option("--username", prompt=True, help="Your username.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--expires-in",
    type=DurationArg(),
    default="720h",
    show_default=True,
    help="The token's lifetime.",
)
@click.pass_context
def login(ctx: click.Context, username: str, password_stdin: bool, expires_in: str) -> None:
    """Log in: create a token of yours and keep it in the 0600 token file (any user; the
    management commands other than `hth-ctl me` need an admin)."""
    settings = load_settings(getattr(ctx.find_root().obj, "config", None))
    password = read_password(password_stdin) if password_stdin else _prompt_once()
    client = ApiClient(base_url(settings), auth=(username, password))
    name = f"hth-ctl on {socket.gethostname()}"[:128]
    created = client.post("/api/v1/me/tokens", {"name": name, "expires_in": expires_in})
    click.echo(f"logged in as {username}; token saved to {save_token(created['token'])}")


def _prompt_once() -> str:
    value: str = click.prompt("Password", hide_input=True)
    return value
