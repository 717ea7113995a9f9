"""Whether auth is on, as a started registry shows it: on beyond loopback by default, off
(and saying so) on loopback, the initial admin from the environment, no weak password."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testbed.processes import REPO_ROOT, RegistryProcess, free_port

TRANSPORT_ONLY = {"allow_insecure": True}


def test_beyond_loopback_auth_is_on_and_the_admin_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTH_ADMIN_USERNAME", "envadmin")
    monkeypatch.setenv("HTH_ADMIN_PASSWORD", "env-admin-password")
    port = free_port()
    http = {"addr": f"0.0.0.0:{port}", **TRANSPORT_ONLY}
    server = RegistryProcess(tmp_path, {"docker_registry": {"http": http}}, port=port).start()
    try:
        anonymous = httpx.get(f"{server.url}/v2/", timeout=10)
        admin = httpx.get(
            f"{server.url}/api/v1/users", auth=("envadmin", "env-admin-password"), timeout=10
        )
    finally:
        server.stop()

    assert anonymous.status_code == 401
    assert admin.status_code == 200
    assert f"auth ON: 0.0.0.0:{port} is beyond loopback" in server.log_text()
    assert "env-admin-password" not in server.log_text()


def test_on_loopback_without_auth_enabled_the_registry_is_open_and_says_so(
    tmp_path: Path,
) -> None:
    server = RegistryProcess(tmp_path).start()
    try:
        version = httpx.get(f"{server.url}/v2/", timeout=10)
        api = httpx.get(f"{server.url}/api/v1/users", timeout=10)
    finally:
        server.stop()

    assert version.status_code == 200
    assert api.status_code == 200
    assert "auth OFF" in server.log_text() and "is loopback" in server.log_text()


def test_a_weak_initial_admin_password_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "hth.json"
    initial = {"username": "root", "password": "short"}
    config.write_text(json.dumps({"data_dir": str(tmp_path), "auth": {"initial_admin": initial}}))
    args = [sys.executable, "-m", "cli.main", "--config", str(config), "run", "registry"]

    done = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "auth.initial_admin: password must have at least 8 characters" in done.stderr
    assert "short" not in done.stderr.replace("password must", "")
    assert "Traceback" not in done.stderr
