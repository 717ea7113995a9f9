"""What auth keeps per API process: whether it is on, the login limiter (whose counts live
in the database, shared by every process), the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.access_log import request_id_of
from registry.auth.mode import auth_enabled
from registry.auth.ratelimit import LoginLimiter
from registry.config import Settings
from registry.db.database import Database, open_database

T = TypeVar("T")


@dataclass
class AuthRuntime:
    settings: Settings
    enabled: bool
    limiter: LoginLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthRuntime:
        auth = settings.auth
        window = auth.login_window.total_seconds()
        return cls(settings, auth_enabled(settings), LoginLimiter(auth.login_attempts, window))

    @property
    def service(self) -> str:
        return self.settings.auth.service

    @property
    def token_ttl(self) -> int:
        return max(1, int(self.settings.auth.token_ttl.total_seconds()))

    def db(self) -> Database:
        """The database (opened and migrated on first use; call it in a worker thread)."""
        return open_database(self.settings)

    async def with_db(self, call: Callable[..., T], *args: Any) -> T:
        """`call(db, *args)` in a worker thread: the database is blocking I/O."""
        return await run_in_threadpool(lambda: call(self.db(), *args))


def auth_runtime(connection: HTTPConnection) -> AuthRuntime:
    runtime: AuthRuntime = connection.app.state.hth_auth
    return runtime


def client_address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else "unknown"


def request_id(connection: HTTPConnection) -> str | None:
    """The id of the request's access log line and X-Request-Id answer."""
    return request_id_of(connection)
