"""Flower's basic-auth credentials: from the configuration, or generated once and kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.config import ConfigError, parse_settings
from worker.flower import flower_credentials, password_file


def test_a_configured_password_is_used(tmp_path: Path) -> None:
    settings = parse_settings(
        {"data_dir": str(tmp_path), "flower": {"username": "ops", "password": "s3cret"}}
    )
    assert flower_credentials(settings) == ("ops", "s3cret")
    assert not password_file(settings).exists()


def test_a_generated_password_is_kept_private_and_reused(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)})
    user, password = flower_credentials(settings)
    assert user == "admin" and len(password) >= 20
    assert password_file(settings).stat().st_mode & 0o777 == 0o600
    assert flower_credentials(settings) == (user, password)


def test_a_comma_in_the_password_is_refused(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path), "flower": {"password": "a,b"}})
    with pytest.raises(ConfigError, match="flower"):
        flower_credentials(settings)
