"""hth-ctl show-config: effective configuration, validation of a file, clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testbed.processes import REPO_ROOT


def hth_ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_show_config_prints_defaults_and_hides_secrets(tmp_path: Path) -> None:
    config = write(
        tmp_path / "hth.json",
        {
            "docker_registry": {
                "storage_driver": "s3",
                "storage_settings": {
                    "accesskey": "AK",
                    "secretkey": "SECRET-VALUE",
                    "bucket": "b",
                    "region": "r",
                },
            }
        },
    )
    result = hth_ctl("--config", str(config), "show-config")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["docker_registry"]["storage_settings"]["secretkey"] == "***"
    assert shown["docker_registry"]["gc"]["grace_period"] == "1h"
    assert "SECRET-VALUE" not in result.stdout + result.stderr


def test_check_reports_the_key_path_in_one_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"docker_registry": {"storage_driver": "s3"}})
    result = hth_ctl("show-config", "--check", str(bad))
    assert result.returncode == 2
    assert "docker_registry.storage_settings.bucket: field required" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_accepts_a_valid_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", {"docker_registry": {"http": {"addr": "127.0.0.1:5001"}}})
    result = hth_ctl("show-config", "--check", str(good))
    assert result.returncode == 0
    assert "valid" in result.stdout
