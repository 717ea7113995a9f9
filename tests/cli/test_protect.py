"""`hth-ctl protect add|list|delete` against a running registry."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from testbed.processes import REPO_ROOT, RegistryProcess


def hth_ctl(server: RegistryProcess, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(server.workdir / "hth.json")
    command = [sys.executable, "-m", "cli.main", "--config", config, *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_add_list_and_delete_a_rule(registry_server: RegistryProcess) -> None:
    name = f"cli{uuid.uuid4().hex[:8]}"
    added = hth_ctl(registry_server, "protect", "add", name, "team/**", r"v\d+")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == rf"{name}: tags matching v\d+ in team/**"

    listing = hth_ctl(registry_server, "protect", "list").stdout
    row = next(line for line in listing.splitlines() if line.startswith(name))
    assert row.split()[1:4] == ["team/**", r"v\d+", "anonymous"]
    as_json = json.loads(hth_ctl(registry_server, "protect", "list", "--json").stdout)
    assert name in [item["name"] for item in as_json["items"]]

    assert hth_ctl(registry_server, "protect", "delete", name).stdout.strip() == f"{name}: deleted"
    gone = hth_ctl(registry_server, "protect", "delete", name)
    assert gone.returncode == 1 and "404" in gone.stderr


def test_an_invalid_pattern_is_refused_with_the_reason(registry_server: RegistryProcess) -> None:
    result = hth_ctl(registry_server, "protect", "add", "bad", "**", "v(")
    assert result.returncode == 1
    assert "422" in result.stderr and "not a regular expression" in result.stderr
