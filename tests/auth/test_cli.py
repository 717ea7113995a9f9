"""hth-ctl against a registry with auth on: create-admin, login (0600 token file), the
token from the environment, users and tokens commands, loose file permissions refused, and a
non-admin's own tokens (`hth-ctl me tokens`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from registry.auth import permissions, users
from registry.config import parse_settings
from registry.db.database import open_database
from testbed.processes import REPO_ROOT, RegistryProcess


@pytest.fixture(scope="module")
def bare_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    """Auth on, no initial admin configured."""
    server = RegistryProcess(tmp_path_factory.mktemp("cli"), {"auth": {"enabled": True}})
    yield server.start()
    server.stop()


def hth_ctl(
    server: RegistryProcess, home: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "XDG_CONFIG_HOME": str(home), **env}
    if "HTH_TOKEN" not in env:
        environment.pop("HTH_TOKEN", None)
    command = [sys.executable, "-m", "cli.main", "--config", str(server.workdir / "hth.json")]
    return subprocess.run(
        [*command, *args], cwd=REPO_ROOT, input=stdin, capture_output=True, text=True,
        env=environment, timeout=60,
    )  # fmt: skip


def test_create_admin_login_and_manage_users_from_the_cli(
    bare_registry: RegistryProcess, tmp_path: Path
) -> None:
    created = hth_ctl(
        bare_registry, tmp_path, "users", "create-admin", "--username", "boss",
        "--password-stdin", stdin="boss-password-1\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    unauthenticated = hth_ctl(bare_registry, tmp_path, "users", "list")
    logged_in = hth_ctl(
        bare_registry, tmp_path, "login", "--username", "boss", "--password-stdin",
        stdin="boss-password-1\n",
    )  # fmt: skip
    token_file = tmp_path / "hth" / "token"
    user = hth_ctl(
        bare_registry, tmp_path, "users", "create", "dev", "--grant", "team=pull,push",
        "--password-stdin", stdin="dev-password-1\n",
    )  # fmt: skip
    listed = hth_ctl(bare_registry, tmp_path, "users", "list")

    assert unauthenticated.returncode == 1
    assert "401" in unauthenticated.stderr and "hth-ctl login" in unauthenticated.stderr
    assert logged_in.returncode == 0, logged_in.stderr
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert user.returncode == 0, user.stderr
    assert "dev" in listed.stdout and "team=pull,push" in listed.stdout
    response = httpx.get(f"{bare_registry.url}/v2/", auth=("dev", "dev-password-1"))
    assert response.status_code == 200


def test_a_token_file_others_may_read_is_refused(
    bare_registry: RegistryProcess, tmp_path: Path
) -> None:
    token_file = tmp_path / "hth" / "token"
    token_file.parent.mkdir()
    token_file.write_text("hth_0000000000000000_whatever-whatever-whatever\n")
    token_file.chmod(0o644)

    done = hth_ctl(bare_registry, tmp_path, "users", "list")

    assert done.returncode == 1
    assert "permissions 0644" in done.stderr and "chmod 600" in done.stderr
    assert "whatever" not in done.stderr


def test_token_from_the_environment_creates_and_revokes_tokens(
    bare_registry: RegistryProcess, tmp_path: Path
) -> None:
    hth_ctl(
        bare_registry, tmp_path, "users", "create-admin", "--username", "ops",
        "--password-stdin", stdin="ops-password-1\n",
    )  # fmt: skip
    admin_token = httpx.post(
        f"{bare_registry.url}/api/v1/tokens", json={"name": "env"}, auth=("ops", "ops-password-1")
    ).json()["token"]

    created = hth_ctl(bare_registry, tmp_path, "tokens", "create", "ci", HTH_TOKEN=admin_token)
    token_id = created.stdout.split()[1]
    new_token = created.stdout.strip().splitlines()[-1]
    revoked = hth_ctl(bare_registry, tmp_path, "tokens", "revoke", token_id, HTH_TOKEN=admin_token)
    after = hth_ctl(bare_registry, tmp_path, "users", "list", HTH_TOKEN=new_token)

    assert created.returncode == 0, created.stderr
    assert new_token.startswith(f"hth_{token_id}_")
    assert revoked.returncode == 0, revoked.stderr
    assert after.returncode == 1 and "401" in after.stderr


def test_a_user_logs_in_and_manages_their_own_tokens(
    bare_registry: RegistryProcess, tmp_path: Path
) -> None:
    config = bare_registry.workdir / "hth.json"
    db = open_database(parse_settings(json.loads(config.read_text())))
    users.create_user(db, users.NewUser("selfserve", "selfserve-password-1"))
    permissions.set_permission(db, "selfserve", "team", ["pull"])
    environment = {"XDG_CONFIG_HOME": str(tmp_path), "HTH_TOKEN": None}

    def run(*args: str, stdin: str | None = None) -> Result:
        # In process (CliRunner): the registry is real, the CLI's start-up is not paid again.
        return CliRunner().invoke(cli, ["--config", str(config), *args], stdin, env=environment)

    logged_in = run(
        "login", "--username", "selfserve", "--password-stdin", stdin="selfserve-password-1\n"
    )
    created = run("me", "tokens", "create", "ci", "--grant", "team/app=pull")
    refused = run("me", "tokens", "create", "ci", "--grant", "team=pull,push")
    token_id = created.output.split()[1]
    listed = run("me", "tokens", "list")
    revoked = run("me", "tokens", "revoke", token_id)
    after = run("me", "tokens", "list")
    who = run("me")
    admins_only = run("users", "list")

    assert logged_in.exit_code == 0, logged_in.output
    assert created.exit_code == 0, created.output
    assert created.output.splitlines()[-1].startswith(f"hth_{token_id}_")
    assert refused.exit_code == 1 and "403" in refused.output
    assert "selfserve may not push on team" in refused.output
    assert token_id in listed.output and "team/app=pull" in listed.output
    assert revoked.exit_code == 0 and token_id not in after.output
    assert "selfserve (user)" in who.output and "grants: team=pull" in who.output
    assert admins_only.exit_code == 1 and "403" in admins_only.output
