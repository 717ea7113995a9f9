"""`WWW-Authenticate` challenges: Bearer (with the scope a /v2 request needs) for registry
clients, Basic for /api/v1 (so a browser on /api/docs can log in)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from api.auth.runtime import auth_runtime

API_CHALLENGE = 'Basic realm="hth-registry", charset="UTF-8"'


def api_token_challenge(description: str) -> str:
    """/api/v1's answer to a refused bearer token (RFC 6750 `invalid_token`), after the
    Basic challenge; its realm is not the token endpoint, whose tokens are no use here."""
    text = description.replace("\\", "").replace('"', "'")
    bearer = f'Bearer realm="hth-registry", error="invalid_token", error_description="{text}"'
    return f"{API_CHALLENGE}, {bearer}"


def realm(connection: HTTPConnection) -> str:
    configured = auth_runtime(connection).settings.auth.realm
    if configured:
        return configured
    return str(connection.base_url).rstrip("/") + "/auth/token"


def bearer_challenge(connection: HTTPConnection, scope: str | None, error: str | None) -> str:
    parts = [f'realm="{realm(connection)}"', f'service="{auth_runtime(connection).service}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)
