"""The token endpoint of Docker's token protocol: `GET /auth/token?service=&scope=` with
basic credentials (or none: an anonymous token for public namespaces), and `POST` with the
OAuth2 form (grant_type password or refresh_token) that Docker also uses. A password login
with offline access also gets a refresh token; a user keeps at most
`auth.refresh_tokens_per_client` live ones per client_id (the oldest are revoked)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.access_log import note_user
from api.auth.identify import decode_basic, login
from api.auth.runtime import AuthRuntime, auth_runtime
from registry.auth import jwts
from registry.auth.credentials import ANONYMOUS, Principal, check_bearer_token
from registry.auth.permissions import grant_scopes
from registry.auth.scopes import Scope, ScopeInvalid, parse_scopes
from registry.auth.tokens import IssuedSecret, bound_refresh_tokens, create_token, expiry
from registry.auth.users import user_by_id
from registry.errors import RegistryError, Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])

MAX_CLIENT_ID = 128
# A user's live refresh tokens over all its clients: this many clients' worth at most, so
# that inventing client ids does not grow the table without bound either.
CLIENTS_PER_USER = 10


class TokenRequestInvalid(RegistryError):
    code, status, default_message = "UNSUPPORTED", 400, "invalid token request"


@router.get("/token", include_in_schema=False)
async def token_get(request: Request) -> JSONResponse:
    query = request.query_params
    try:
        principal = await _basic_principal(request)
        offline = _offline(query.get("offline_token") == "true", query.get("client_id"))
        return await _answer(
            request, query.get("service"), query.getlist("scope"), principal, False, offline
        )
    except RegistryError as exc:
        return _error(exc, oauth=False)


@router.post("/token", include_in_schema=False)
async def token_post(request: Request) -> JSONResponse:
    try:
        form = _form(await request.body())
        principal = await _grant_principal(request, form)
        scopes = form.get("scope", "").split()
        offline = _offline(form.get("access_type") == "offline", form.get("client_id"))
        return await _answer(request, form.get("service"), scopes, principal, True, offline)
    except RegistryError as exc:
        return _error(exc, oauth=True)


def _offline(wanted: bool, client_id: str | None) -> str | None:
    """The client a refresh token is for ("" when none is named), or None: no refresh token."""
    if not wanted:
        return None
    if client_id is not None and len(client_id) > MAX_CLIENT_ID:
        raise TokenRequestInvalid(f"client_id longer than {MAX_CLIENT_ID} characters")
    return client_id or ""


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        raise TokenRequestInvalid("malformed form body") from None
    return {key: values[-1] for key, values in fields.items()}


async def _basic_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return ANONYMOUS
    if scheme.lower() != "basic":
        raise Unauthorized("the token endpoint takes basic credentials")
    username, secret = decode_basic(value.strip())
    return await login(request, username, secret)


async def _grant_principal(request: Request, form: dict[str, str]) -> Principal:
    grant = form.get("grant_type")
    if grant == "password":
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password:
            raise TokenRequestInvalid("username and password are required")
        return await login(request, username, password)
    if grant == "refresh_token":
        runtime = auth_runtime(request)
        token = form.get("refresh_token", "")
        principal = await runtime.with_db(check_bearer_token, token)
        if principal is None:
            raise Unauthorized("invalid, expired or revoked refresh token")
        return principal
    raise TokenRequestInvalid("grant_type must be password or refresh_token")


async def _answer(
    request: Request,
    service: str | None,
    raw_scopes: list[str],
    principal: Principal,
    oauth: bool,
    offline: str | None,
) -> JSONResponse:
    runtime = auth_runtime(request)
    note_user(request, principal)  # for the access log line
    if service and service != runtime.service:
        raise TokenRequestInvalid(f"unknown service {service!r}")
    try:
        scopes = parse_scopes(raw_scopes)
    except ScopeInvalid as exc:
        raise TokenRequestInvalid(str(exc)) from None
    body = await run_in_threadpool(_issue, runtime, principal, scopes, offline)
    if oauth:
        body["token_type"] = "Bearer"
        body["scope"] = " ".join(raw_scopes)
    else:
        body["token"] = body["access_token"]
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _issue(
    runtime: AuthRuntime, principal: Principal, scopes: list[Scope], offline: str | None
) -> dict[str, Any]:
    db = runtime.db()
    username = principal.username if principal.authenticated else None
    granted = grant_scopes(db, username, principal.admin, scopes, principal.limits)
    token_id = principal.token_id
    refresh: str | None = None
    # Password logins only: a token login keeps its own token (revoking it must suffice).
    if offline is not None and principal.user_id and principal.token_id is None:
        issued_refresh = _refresh_token(runtime, principal.user_id, offline)
        if issued_refresh is not None:
            refresh, token_id = issued_refresh.token, issued_refresh.row.id
    issued_jwt = jwts.issue(
        db,
        runtime.service,
        runtime.token_ttl,
        principal.username,
        principal.user_id,
        token_id,
        granted,
    )
    body: dict[str, Any] = {
        "access_token": issued_jwt.token,
        "expires_in": issued_jwt.expires_in,
        "issued_at": issued_jwt.issued_at,
    }
    if refresh:
        body["refresh_token"] = refresh
    return body


def _refresh_token(runtime: AuthRuntime, user_id: str, client_id: str) -> IssuedSecret | None:
    """A new refresh token for this client; the oldest beyond the limit are revoked."""
    db = runtime.db()
    user = user_by_id(db, user_id)
    if user is None:
        return None
    auth = runtime.settings.auth
    ttl = _positive(auth.refresh_token_ttl)
    issued = create_token(db, user, "docker login", "refresh", expiry(ttl), client_id)
    per_client = auth.refresh_tokens_per_client
    bound_refresh_tokens(db, user.id, client_id, per_client, per_client * CLIENTS_PER_USER)
    return issued


def _positive(ttl: timedelta) -> timedelta | None:
    return ttl if ttl.total_seconds() > 0 else None


def _error(exc: RegistryError, oauth: bool) -> JSONResponse:
    body: dict[str, Any] = exc.body()
    if oauth:
        body["error"] = "invalid_grant" if exc.status == 401 else "invalid_request"
        body["error_description"] = exc.message
    return JSONResponse(body, exc.status, headers=exc.headers)
