"""Who sent a request: no credentials, basic credentials (a password or a token), or a
bearer token (one of our JWTs, or a personal/robot token). Failed logins are limited."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.auth.runtime import auth_runtime, client_address
from registry.auth import jwts
from registry.auth.credentials import (
    ANONYMOUS,
    Principal,
    check_bearer_token,
    check_credentials,
    session_principal,
)
from registry.auth.tokens import looks_like_token
from registry.content.errors import TooManyRequests, Unauthorized

log = logging.getLogger("hth.auth")

MAX_CREDENTIAL_LENGTH = 4096


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


async def identify(connection: HTTPConnection) -> Identity:
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
    runtime, address = auth_runtime(connection), client_address(connection)
    wait = runtime.limiter.retry_after(address, username)
    if wait is not None:
        error = TooManyRequests(f"too many failed logins; retry in {wait} seconds")
        error.headers["Retry-After"] = str(wait)
        raise error
    principal = await runtime.with_db(check_credentials, username, secret)
    if principal is None:
        runtime.limiter.failed(address, username)
        log.warning("failed login for %r from %s", username[:64], address)
        raise Unauthorized("invalid username or password")
    runtime.limiter.succeeded(address, username)
    return principal


async def _bearer(connection: HTTPConnection, token: str) -> Identity:
    runtime, address = auth_runtime(connection), client_address(connection)
    if looks_like_token(token):
        wait = runtime.limiter.retry_after(address, "(token)")
        if wait is not None:
            error = TooManyRequests(f"too many failed logins; retry in {wait} seconds")
            error.headers["Retry-After"] = str(wait)
            raise error
        principal = await runtime.with_db(check_bearer_token, token)
        if principal is None:
            runtime.limiter.failed(address, "(token)")
            log.warning("invalid or revoked access token from %s", address)
            raise TokenRefused("invalid, expired or revoked token")
        return Identity(principal)
    return await run_in_threadpool(_verify_jwt, connection, token)


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
