"""/api/v1 is for admins when auth is on: `admit_admin` runs before every route of
`V1Route` (the route class all /api/v1 routers share), `admit_user` before the routes of
`/api/v1/me` (any user, about themselves), and `audit_call` records each changing call
afterwards unless the core already recorded something more specific.

Only a password (basic auth) or personal/robot token counts here, and only an admin's
unlimited one is an admin credential: registry tokens (JWTs from /auth/token, which every
Docker daemon holds) and refresh tokens (which `docker login` keeps) are refused with 401
whatever they carry."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from api.auth.challenge import API_CHALLENGE, api_token_challenge
from api.auth.identify import TokenRefused, identify
from api.auth.runtime import auth_runtime, client_address, request_id
from registry import audit
from registry.auth.credentials import ANONYMOUS, Principal
from registry.db.database import Database
from registry.errors import Denied, RegistryError, Unauthorized

# Declared on every /api/v1 route so that the OpenAPI document shows how to authenticate;
# the check itself is `admit_admin`, which runs before the request body is even parsed.
CREDENTIALS = APIKeyHeader(
    name="Authorization",
    scheme_name="admin credentials",
    description="`Bearer <personal access token>` or `Basic <user:password>` of an admin "
    "(of any user on /api/v1/me)",
    auto_error=False,
)
log = logging.getLogger("hth.audit")
_STATE = "hth_principal"
_READ_ONLY = {"GET", "HEAD", "OPTIONS"}


async def admit_admin(request: Request) -> Principal:
    runtime = auth_runtime(request)
    principal = ANONYMOUS
    if runtime.enabled:
        principal = await _admin(request)
    return _admitted(request, principal)


async def is_admin(request: Request) -> bool:
    """Whether the request would be admitted to /api/v1 (always, with auth off); never
    raises: for public routes that show admins more, such as /metrics."""
    if not auth_runtime(request).enabled:
        return True
    try:
        await _admin(request)
    except RegistryError:
        return False
    return True


async def admit_user(request: Request) -> Principal:
    """Any user, about themselves; even with auth off, since there is no "me" without one."""
    return _admitted(request, await _authenticated(request))


def _admitted(request: Request, principal: Principal) -> Principal:
    setattr(request.state, _STATE, principal)
    context = audit.AuditContext(principal.username, client_address(request), request_id(request))
    audit.bind(context)
    return principal


async def _admin(request: Request) -> Principal:
    principal = await _authenticated(request)
    if not principal.admin:
        raise Denied("the management API is for admins (your own tokens: /api/v1/me/tokens)")
    if not principal.full_admin:
        raise Denied("a token limited to some repositories is no admin credential")
    return principal


async def _authenticated(request: Request) -> Principal:
    try:
        principal = (await identify(request, registry_tokens=False)).principal
        if principal.token_kind == "refresh":
            raise TokenRefused("a refresh token is only for /auth/token")
    except TokenRefused as exc:
        exc.headers["WWW-Authenticate"] = api_token_challenge(exc.message)
        raise
    except Unauthorized as exc:
        exc.headers["WWW-Authenticate"] = API_CHALLENGE
        raise
    if not principal.authenticated:
        error = Unauthorized("authentication required: a personal token or credentials")
        error.headers["WWW-Authenticate"] = API_CHALLENGE
        raise error
    return principal


def current_principal(request: Request) -> Principal:
    principal: Principal = getattr(request.state, _STATE, ANONYMOUS)
    return principal


async def audit_call(request: Request, route: APIRoute, response: Response) -> None:
    """One audit record per changing call that was let in (whatever its outcome)."""
    context = audit.current()
    if request.method in _READ_ONLY or context is None or context.recorded:
        return
    if getattr(request.state, _STATE, None) is None:
        return  # refused before admission: not an action
    params: dict[str, Any] = dict(request.path_params)
    body = await _json_body(request)
    if body is not None:
        params["body"] = body
    target = "/".join(str(value) for value in request.path_params.values())
    action = f"{route.tags[0] if route.tags else 'api'}.{route.name}"
    status = response.status_code
    try:
        await auth_runtime(request).with_db(_record, action, target, params, status)
    except SQLAlchemyError as exc:  # the call itself happened: answer it all the same
        log.error("audit record %s %s not written: %s", action, target, exc)


def _record(db: Database, action: str, target: str, params: dict[str, Any], status: int) -> None:
    audit.record_quietly(db, action, target, params=params, status=status)


async def _json_body(request: Request) -> Any:
    try:
        raw = await request.body()
        return json.loads(raw) if raw else None
    except (ValueError, RuntimeError):
        return None
