"""Who sent a request: no credentials, basic credentials (a password or a token), or a
bearer token (one of our JWTs, or a personal/robot token). Failed logins are limited
(registry/auth/ratelimit.py, counted in the database by every process)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.access_log import note_user
from api.auth.runtime import auth_runtime, client_address
from registry.auth import jwts
from registry.auth.credentials import (
    ANONYMOUS,
    Principal,
    check_bearer_token,
    check_credentials,
    session_principal,
)
from registry.auth.ratelimit import LoginLocked
from registry.auth.tokens import looks_like_token
from registry.db.database import Database
from registry.errors import TooManyRequests, Unauthorized, Unavailable

log = logging.getLogger("hth.auth")

MAX_CREDENTIAL_LENGTH = 4096
# The limiter's name for failed bearer tokens (no username comes with them).
TOKEN_NAME = "(token)"


@dataclass(frozen=True)
class Identity:
    principal: Principal
    # A JWT's granted access {(type, name): actions}; None: decided by live permissions.
    access: dict[tuple[str, str], frozenset[str]] | None = None

    @property
    def anonymous(self) -> bool:
        return not self.principal.authenticated


class TokenRefused(Unauthorized):
    """A bearer token that is invalid, expired or revoked (error="invalid_token")."""


class RegistryTokenRefused(TokenRefused):
    """A registry token (JWT) where only personal credentials are accepted (/api/v1)."""


async def identify(connection: HTTPConnection, *, registry_tokens: bool = True) -> Identity:
    """The caller; `registry_tokens=False` refuses our JWTs without even verifying them."""
    identity = await _identify(connection, registry_tokens)
    note_user(connection, identity.principal)  # for the access log line
    return identity


async def _identify(connection: HTTPConnection, registry_tokens: bool) -> Identity:
    header = connection.headers.get("authorization")
    if not header:
        return Identity(ANONYMOUS)
    if len(header) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("credentials too long")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        username, secret = decode_basic(value)
        return Identity(await login(connection, username, secret))
    if scheme.lower() == "bearer" and value:
        if not registry_tokens and not looks_like_token(value):
            raise RegistryTokenRefused(
                "registry tokens from /auth/token are not accepted here: use an admin's "
                "personal access token (hth_...) or basic credentials"
            )
        return await _bearer(connection, value)
    raise Unauthorized("unsupported authorization scheme (use Basic or Bearer)")


def decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed basic credentials") from None
    username, sep, secret = decoded.partition(":")
    if not sep or not username or not secret:
        raise Unauthorized("malformed basic credentials")
    return username, secret


async def login(connection: HTTPConnection, username: str, secret: str) -> Principal:
    """Check a name and password (or token); too many failures answer 429 TOOMANYREQUESTS."""
    principal = await _limited(
        connection, username, lambda db: check_credentials(db, username, secret)
    )
    if principal is None:
        log.warning("failed login for %r from %s", username[:64], client_address(connection))
        raise Unauthorized("invalid username or password")
    return principal


async def _bearer(connection: HTTPConnection, token: str) -> Identity:
    if looks_like_token(token):
        principal = await _limited(connection, TOKEN_NAME, lambda db: check_bearer_token(db, token))
        if principal is None:
            log.warning("invalid or revoked access token from %s", client_address(connection))
            raise TokenRefused("invalid, expired or revoked token")
        return Identity(principal)
    return await run_in_threadpool(_verify_jwt, connection, token)


async def _limited(
    connection: HTTPConnection, name: str, verify: Callable[[Database], Principal | None]
) -> Principal | None:
    """`verify` under the login limiter, in a worker thread (the database is blocking I/O)."""
    runtime, address = auth_runtime(connection), client_address(connection)
    try:
        return await runtime.with_db(runtime.limiter.attempt, address, name, verify)
    except LoginLocked as exc:
        error = TooManyRequests(str(exc))
        error.headers["Retry-After"] = str(exc.retry_after)
        raise error from None
    except SQLAlchemyError as exc:
        log.warning("login not checked, the database failed: %s", exc)
        raise Unavailable("the user database is unavailable; try again shortly") from None


def _verify_jwt(connection: HTTPConnection, token: str) -> Identity:
    runtime = auth_runtime(connection)
    db = runtime.db()
    try:
        claims = jwts.verify(db, runtime.service, token)
    except jwts.TokenInvalid as exc:
        raise TokenRefused(str(exc)) from None
    principal = session_principal(db, claims)
    if principal is None:
        raise TokenRefused("token revoked")
    return Identity(principal, claims.access)
