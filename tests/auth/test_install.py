"""Wiring: /api/v1 routes must all use the admin-checking route class; the auth mode."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from api.auth.install import _check_guarded
from registry.auth.mode import auth_enabled, describe_mode
from registry.config import ConfigError, parse_settings


def test_an_api_route_outside_the_admin_check_stops_the_start() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/api/v1/sneaky")

    @router.get("")
    def sneaky() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/api/v1/sneaky must use"):
        _check_guarded(app)


@pytest.mark.parametrize(
    ("addr", "enabled", "expected"),
    [
        ("127.0.0.1:5000", None, False),
        ("[::1]:5000", None, False),
        ("localhost:5000", None, False),
        ("0.0.0.0:5000", None, True),
        ("10.1.2.3:5000", None, True),
        ("0.0.0.0:5000", False, False),
        ("127.0.0.1:5000", True, True),
    ],
)
def test_auth_is_on_beyond_loopback_unless_set_explicitly(
    addr: str, enabled: bool | None, expected: bool
) -> None:
    raw = {"docker_registry": {"http": {"addr": addr}}, "auth": {"enabled": enabled}}
    settings = parse_settings(raw)
    assert auth_enabled(settings) is expected
    assert ("auth ON" if expected else "auth OFF") in describe_mode(settings)


def test_initial_admin_needs_both_username_and_password() -> None:
    with pytest.raises(ConfigError, match="auth.initial_admin"):
        parse_settings({"auth": {"initial_admin": {"username": "root"}}})
