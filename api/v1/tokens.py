"""/api/v1/tokens: personal access tokens and robot tokens of every user (admins only;
users manage their own at /api/v1/me/tokens). A token's text is in the answer that creates
it and nowhere else; revoking one takes effect at once."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth.admin import current_principal
from api.v1.auth_errors import BadRequest, core
from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1Route, error_responses
from api.v1.token_schemas import TokenCreated, TokenIn, TokenOut, TokenPage, issue_token, token_out
from registry import audit
from registry.auth import tokens, users

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], route_class=V1Route)


@router.get("", responses=error_responses(404))
def list_all(
    db: DbDep,
    user: str | None = None,
    kind: Literal["personal", "robot", "refresh"] | None = None,
    include_revoked: Annotated[bool, Query(description="also revoked and expired ones")] = False,
) -> TokenPage:
    user_id = core(lambda: users.get_user(db, user)).id if user else None
    names = {row.id: row.username for row in users.list_users(db)}
    rows = tokens.list_tokens(db, user_id=user_id, kind=kind)
    items = [token_out(db, row, names) for row in rows if include_revoked or tokens.is_live(row)]
    return TokenPage(items=items)


@router.post("", status_code=201, responses=error_responses(400, 403, 404, 409, 422))
def create(
    body: TokenIn, request: Request, response: Response, db: DbDep, settings: SettingsDep
) -> TokenCreated:
    """A new token for a user or robot (`user`, default the caller), optionally limited to
    some of its user's rights (never beyond them: 403)."""
    caller = current_principal(request)
    if body.user is None and not caller.authenticated:
        raise BadRequest("name the token's user (auth is off, so there is no caller)")
    owner = core(lambda: users.get_user(db, body.user or caller.username))
    created = issue_token(db, settings, owner, body, caller)
    response.headers["Location"] = f"/api/v1/tokens/{created.id}"
    return created


@router.get("/{token_id}", responses=error_responses(404))
def show(token_id: str, db: DbDep) -> TokenOut:
    return token_out(db, core(lambda: tokens.get_token(db, token_id)))


@router.delete("/{token_id}", responses=error_responses(404))
def revoke(token_id: str, db: DbDep) -> TokenOut:
    """Revoke: the token, and every registry token issued from it, stop working at once."""
    row = core(lambda: tokens.revoke_token(db, token_id))
    out = token_out(db, row)
    audit.record(db, "token.revoke", out.user, params={"id": token_id}, status=200)
    return out
