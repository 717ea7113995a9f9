"""`hth-ctl tokens ...` (personal and robot tokens) and `hth-ctl login`, which trades an
admin's password for a token kept in the 0600 token file."""

from __future__ import annotations

import json
import socket

import click

from cli.client import ApiClient, base_url
from cli.credentials import save_token
from cli.tasks import api_client
from cli.users import read_password
from registry.config import load_settings


@click.group()
def tokens() -> None:
    """Personal access tokens and robot tokens: list, create (shown once), revoke."""


@tokens.command("list")
@click.option("--user", help="Only this user's tokens.")
@click.option("--all", "include_revoked", is_flag=True, help="Also revoked and expired ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
def list_tokens(user: str | None, include_revoked: bool, as_json: bool) -> None:
    query = {"user": user, "include_revoked": include_revoked or None}
    page = api_client().get("/api/v1/tokens", **query)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    click.echo(f"{'ID':16}  {'USER':24}  {'KIND':8}  {'EXPIRES':20}  {'LIVE':4}  NAME")
    for token in page["items"]:
        expires = (token["expires_at"] or "never")[:19].replace("T", " ")
        live = "yes" if token["live"] else "no"
        click.echo(
            f"{token['id']:16}  {token['user']:24}  {token['kind']:8}  {expires:20}  "
            f"{live:4}  {token['name']}"
        )


@tokens.command("create")
@click.argument("name")
@click.option("--user", help="Whose token (default: yours).")
@click.option("--expires-in", help="A duration such as 720h (default: never).")
@click.option("--save", is_flag=True, help="Also keep it as this CLI's token (0600 file).")
def create_token(name: str, user: str | None, expires_in: str | None, save: bool) -> None:
    """Create a token; its text is printed now and never again."""
    body = {"name": name, "user": user, "expires_in": expires_in}
    created = api_client().post("/api/v1/tokens", {k: v for k, v in body.items() if v})
    click.echo(f"token {created['id']} for {created['user']} (shown only now):")
    click.echo(created["token"])
    if save:
        click.echo(f"saved to {save_token(created['token'])}", err=True)


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke at once (registry tokens issued from it stop working too)."""
    api_client().delete(f"/api/v1/tokens/{token_id}")
    click.echo(f"revoked {token_id}")


@click.command()
@click.option("--username", prompt=True, help="An admin's username.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--expires-in", default="720h", show_default=True, help="The token's lifetime.")
@click.pass_context
def login(ctx: click.Context, username: str, password_stdin: bool, expires_in: str) -> None:
    """Log in as an admin: create a token and keep it in the 0600 token file."""
    settings = load_settings(getattr(ctx.find_root().obj, "config", None))
    password = read_password(password_stdin) if password_stdin else _prompt_once()
    client = ApiClient(base_url(settings), auth=(username, password))
    name = f"hth-ctl on {socket.gethostname()}"[:128]
    created = client.post("/api/v1/tokens", {"name": name, "expires_in": expires_in})
    click.echo(f"logged in as {username}; token saved to {save_token(created['token'])}")


def _prompt_once() -> str:
    value: str = click.prompt("Password", hide_input=True)
    return value
