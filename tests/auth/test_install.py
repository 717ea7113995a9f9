"""Wiring: /api/v1 routes must all use the admin-checking route class (/api/v1/me the one
admitting any user, and only there); the auth mode."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from api.v1.errors import V1Route, V1UserRoute
from api.v1.guard_check import check_guarded
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
        check_guarded(app)


@pytest.mark.parametrize(
    ("prefix", "route_class"),
    [("/api/v1/users/open", V1UserRoute), ("/api/v1/metoo", V1UserRoute), ("/api/v1/me", V1Route)],
)
def test_the_any_user_route_class_only_guards_api_v1_me(
    prefix: str, route_class: type[V1Route]
) -> None:
    app = FastAPI()
    router = APIRouter(prefix=prefix, route_class=route_class)

    @router.get("")
    def route() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match=f"{prefix} must use"):
        check_guarded(app)


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
