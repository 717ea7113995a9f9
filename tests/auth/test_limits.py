"""Failed logins are rate-limited (429 TOOMANYREQUESTS with Retry-After), JSON bodies are
small, and no secret reaches a log line or an error body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import ADMIN, SERVICE, AuthRegistry


@pytest.fixture(scope="module")
def strict_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    extra = {"auth": {"login_attempts": 2, "login_window": "10m", "api_body_limit": 4096}}
    registry = AuthRegistry.start(tmp_path_factory.mktemp("strict"), extra)
    yield registry
    registry.stop()


def test_repeated_failed_logins_answer_429_with_retry_after(strict_registry: AuthRegistry) -> None:
    user = strict_registry.create_user("victim")
    with strict_registry.client((user[0], "wrong-guess-1")) as http:
        failures = [http.get("/auth/token", params={"service": SERVICE}) for _ in range(2)]
    with strict_registry.client(user) as http:
        limited_token = http.get("/auth/token", params={"service": SERVICE})
        limited_v2 = http.get("/v2/")
    bystander = strict_registry.create_user("bystander")
    with strict_registry.client(bystander) as http:
        other_user = http.get("/v2/")

    assert [r.status_code for r in failures] == [401, 401]
    for limited in (limited_token, limited_v2):
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert 1 <= int(limited.headers["Retry-After"]) <= 600
    assert other_user.status_code == 200


def test_api_refuses_a_body_over_the_limit(strict_registry: AuthRegistry) -> None:
    body = {"username": "big", "password": "x" * 10_000}
    with strict_registry.admin() as http:
        response = http.post("/api/v1/users", json=body)

    assert response.status_code == 413
    assert "x" * 100 not in response.text


def test_no_secret_reaches_the_log(strict_registry: AuthRegistry, tmp_path: Path) -> None:
    token = strict_registry.create_token(ADMIN[0], "log-check")["token"]
    with strict_registry.client(("logger", "secret-password-in-a-log")) as http:
        http.get("/v2/")
    with strict_registry.client(**{"Authorization": f"Bearer {token}"}) as http:
        http.get("/api/v1/users")
        http.get("/v2/", params={"x": "1"})

    log = strict_registry.server.log_text()
    assert "failed login" in log  # the debug log is on and does say something
    for secret in ("secret-password-in-a-log", token, ADMIN[1], token.split("_", 2)[2]):
        assert secret not in log
