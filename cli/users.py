"""`hth-ctl users ...`: users, robots and namespace permissions through the REST API, and
`create-admin`, which writes the database directly (the way in before any admin exists)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from cli.output import echo_answer
from cli.tasks import api_client
from registry.config import load_settings

ACTIONS = ("pull", "push", "delete")


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """From one line of stdin, else a hidden prompt typed twice; never from an argument."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("no password on stdin")
        return password
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


def parse_grant(text: str) -> dict[str, Any]:
    namespace, sep, actions = text.rpartition("=")
    wanted = [a for a in actions.split(",") if a]
    if not sep or not namespace or not wanted or set(wanted) - set(ACTIONS):
        raise click.BadParameter(f"{text!r}: expected NAMESPACE=pull[,push][,delete]")
    return {"namespace": namespace, "actions": wanted}


def format_grants(grants: list[dict[str, Any]] | None) -> str:
    """Grants as `--grant` takes them (parse_grant), space-separated."""
    return " ".join(f"{g['namespace']}={','.join(g['actions'])}" for g in grants or [])


@click.group()
def users() -> None:
    """Users, robot accounts and their namespace permissions (admins only)."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
def list_users(as_json: bool) -> None:
    echo_answer(api_client().get("/api/v1/users"), as_json, _user_lines)


def _user_lines(page: dict[str, Any]) -> Iterator[str]:
    yield f"{'USERNAME':32}  {'KIND':6}  {'ADMIN':5}  {'STATE':8}  PERMISSIONS"
    for user in page["items"]:
        grants = format_grants(user["permissions"])
        state = "disabled" if user["disabled"] else "active"
        admin = "yes" if user["admin"] else "no"
        yield f"{user['username']:32}  {user['kind']:6}  {admin:5}  {state:8}  {grants}"


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the admin role.")
@click.option("--robot", is_flag=True, help="A robot account (token only, named robot$NAME).")
@click.option("--grant", "grants", multiple=True, help="NAMESPACE=pull,push (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create_user(
    username: str, admin: bool, robot: bool, grants: tuple[str, ...], password_stdin: bool
) -> None:
    """Create a user (asks for a password) or a robot (prints its token, once)."""
    body: dict[str, Any] = {
        "username": username,
        "admin": admin,
        "robot": robot,
        "permissions": [parse_grant(g) for g in grants],
    }
    if not robot:
        body["password"] = read_password(password_stdin)
    created = api_client().post("/api/v1/users", body)
    click.echo(f"created {created['kind']} {created['username']}")
    if created.get("token"):
        click.echo(f"token (shown only now): {created['token']}")


@users.command("delete")
@click.argument("username")
def delete_user(username: str) -> None:
    """Delete a user with its tokens and permissions."""
    api_client().delete(f"/api/v1/users/{username}")
    click.echo(f"deleted {username}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def set_password(username: str, password_stdin: bool) -> None:
    api_client().request("PATCH", f"/api/v1/users/{username}", json={
        "password": read_password(password_stdin, "New password"),
    })  # fmt: skip
    click.echo(f"password of {username} changed")


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Refuse every credential of the user (tokens included) until enabled again."""
    api_client().request("PATCH", f"/api/v1/users/{username}", json={"disabled": True})
    click.echo(f"{username} disabled")


@users.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    api_client().request("PATCH", f"/api/v1/users/{username}", json={"disabled": False})
    click.echo(f"{username} enabled")


@users.command("grant")
@click.argument("username")
@click.argument("namespace")
@click.argument("actions")
def grant(username: str, namespace: str, actions: str) -> None:
    """Let USERNAME do ACTIONS (e.g. pull,push) in NAMESPACE; `anonymous` makes it public."""
    body = parse_grant(f"{namespace}={actions}")
    api_client().put(f"/api/v1/users/{username}/permissions/{namespace}", {
        "actions": body["actions"],
    })  # fmt: skip
    click.echo(f"{username}: {namespace}={','.join(body['actions'])}")


@users.command("ungrant")
@click.argument("username")
@click.argument("namespace")
def ungrant(username: str, namespace: str) -> None:
    api_client().delete(f"/api/v1/users/{username}/permissions/{namespace}")
    click.echo(f"{username}: no more access to {namespace}")


@users.command("create-admin")
@click.option("--username", default="admin", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def create_admin(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Create an admin in the database of the configured platform (no API call: this is
    how the first admin comes to be when none was configured)."""
    from registry.auth.users import NewUser, UserError, create_user
    from registry.config.password_policy import WeakPassword
    from registry.db.database import open_database

    settings = load_settings(getattr(ctx.find_root().obj, "config", None))
    password = read_password(password_stdin)
    try:
        create_user(open_database(settings), NewUser(username, password, admin=True))
    except (UserError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created admin {username}; log in with `hth-ctl login --username {username}`")
