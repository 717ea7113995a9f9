"""The login limit is one limit for every process on a database: two registry processes
share one (SQLite or PostgreSQL) and count each other's failures; a sprayer's address is
refused without locking the user out of another address; the lock ends with the window.
Distinct client addresses are real ones: the test connects from 127.0.0.2, 127.0.0.3, ..."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from registry.auth.ratelimit import ADDRESS_FACTOR
from testbed.task_platform import postgres_database
from tests.support.auth import SERVICE, AuthRegistry

ATTEMPTS = 3
# Short enough to wait for once, long enough that a slow machine's failures fall inside it.
WINDOW_SECONDS = 20


@dataclass
class Pair:
    a: AuthRegistry
    b: AuthRegistry

    def login(self, on: str, auth: tuple[str, str], source: str = "127.0.0.1") -> httpx.Response:
        registry = self.a if on == "a" else self.b
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=registry.url, auth=auth, transport=transport) as http:
            return http.get("/auth/token", params={"service": SERVICE}, timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("shared-limits")
    with _database(request.param, base) as url:
        extra = {
            "auth": {"login_attempts": ATTEMPTS, "login_window": f"{WINDOW_SECONDS}s"},
            "database": {"url": url},
        }
        first = AuthRegistry.start(base / "a", extra)
        try:
            second = AuthRegistry.start(base / "b", extra)
        except BaseException:
            first.stop()
            raise
        yield Pair(first, second)
        second.stop()
        first.stop()


@contextlib.contextmanager
def _database(kind: str, base: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{base / 'shared.db'}"


def _user(pair: Pair) -> tuple[str, str]:
    return pair.a.create_user(f"s{uuid.uuid4().hex[:6]}")


def test_failures_spread_over_two_processes_are_counted_together(pair: Pair) -> None:
    user = _user(pair)
    wrong = (user[0], "wrong-guess")
    failures = [pair.login(on, wrong, "127.0.0.2") for on in ("a", "b", "a")]
    on_a, on_b = pair.login("a", user, "127.0.0.2"), pair.login("b", user, "127.0.0.2")

    assert [r.status_code for r in failures] == [401] * ATTEMPTS
    assert (on_a.status_code, on_b.status_code) == (429, 429)


def test_spraying_from_one_address_does_not_lock_out_the_right_password_from_another(
    pair: Pair,
) -> None:
    victim = _user(pair)
    names = [victim[0]] * ATTEMPTS + [f"x{n}-{uuid.uuid4().hex[:4]}" for n in range(ATTEMPTS)]
    names += [f"y{n}" for n in range(ATTEMPTS * ADDRESS_FACTOR - len(names))]
    sprayed = [
        pair.login("ab"[n % 2], (name, "wrong-guess"), "127.0.0.3") for n, name in enumerate(names)
    ]
    sprayer_next = pair.login("a", (f"z-{uuid.uuid4().hex[:4]}", "wrong-guess"), "127.0.0.3")
    victim_elsewhere = [pair.login(on, victim, "127.0.0.4") for on in ("a", "b")]

    assert [r.status_code for r in sprayed] == [401] * len(names)
    assert sprayer_next.status_code == 429
    assert [r.status_code for r in victim_elsewhere] == [200, 200]


def test_the_right_password_works_again_after_the_window(pair: Pair) -> None:
    user = _user(pair)
    for on in ("a", "b", "a"):
        assert pair.login(on, (user[0], "wrong-guess"), "127.0.0.5").status_code == 401
    locked = pair.login("b", user, "127.0.0.5")
    assert locked.status_code == 429
    wait = int(locked.headers["Retry-After"])
    assert 1 <= wait <= WINDOW_SECONDS

    time.sleep(wait + 1)
    assert pair.login("b", user, "127.0.0.5").status_code == 200
    assert pair.login("a", (user[0], "wrong-guess"), "127.0.0.5").status_code == 401
