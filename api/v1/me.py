"""/api/v1/me: any user, about themselves: who they are and what they hold, and their own
personal access tokens (create, list, show, revoke). Another user's token is answered 404,
as if it did not exist. Admitted by `V1UserRoute` (api/auth/admin.py: admit_user)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth.admin import current_principal
from api.v1.auth_errors import NotFound
from api.v1.deps import DbDep, SettingsDep
from api.v1.errors import V1UserRoute, error_responses
from api.v1.token_schemas import (
    MyTokenIn,
    TokenCreated,
    TokenOut,
    TokenPage,
    issue_token,
    token_out,
)
from api.v1.users import Grant
from registry import audit
from registry.auth import permissions, tokens, users
from registry.auth.credentials import Principal
from registry.auth.models import TokenRow
from registry.db.database import Database

router = APIRouter(prefix="/api/v1/me", tags=["me"], route_class=V1UserRoute)


class MeOut(BaseModel):
    username: str
    kind: str
    admin: bool
    permissions: list[Grant] = Field(description="the user's own grants")
    public: list[Grant] = Field(description="what everyone may do (grants to anonymous)")
    token: TokenOut | None = Field(description="the token this request came with, if any")


@router.get("")
def whoami(request: Request, db: DbDep) -> MeOut:
    principal = current_principal(request)
    token = _own(db, principal, principal.token_id) if principal.token_id else None
    return MeOut(
        username=principal.username,
        kind=principal.kind,
        admin=principal.admin,
        permissions=_grants(db, principal.username),
        public=_grants(db, permissions.ANONYMOUS),
        token=token_out(db, token) if token else None,
    )


def _grants(db: Database, principal: str) -> list[Grant]:
    rows = permissions.grants(db, principal)
    return [
        Grant.model_validate({"namespace": r.namespace, "actions": r.actions.split(",")})
        for r in rows
    ]


@router.get("/tokens")
def list_mine(
    request: Request,
    db: DbDep,
    kind: Literal["personal", "robot", "refresh"] | None = None,
    include_revoked: Annotated[bool, Query(description="also revoked and expired ones")] = False,
) -> TokenPage:
    """Your tokens, without their secrets (refresh tokens are those of `docker login`)."""
    principal = current_principal(request)
    rows = tokens.list_tokens(db, user_id=principal.user_id, kind=kind)
    names = {row.user_id: principal.username for row in rows}
    items = [token_out(db, row, names) for row in rows if include_revoked or tokens.is_live(row)]
    return TokenPage(items=items)


@router.post("/tokens", status_code=201, responses=error_responses(400, 403, 409, 422))
def create_mine(
    body: MyTokenIn, request: Request, response: Response, db: DbDep, settings: SettingsDep
) -> TokenCreated:
    """A personal access token of yours, optionally limited to some of your rights (asking
    for more than you hold answers 403); its text is in this answer only."""
    principal = current_principal(request)
    owner = users.user_by_id(db, principal.user_id or "")
    if owner is None:  # deleted between admission and now
        raise NotFound("your account no longer exists")
    created = issue_token(db, settings, owner, body, principal)
    response.headers["Location"] = f"/api/v1/me/tokens/{created.id}"
    return created


@router.get("/tokens/{token_id}", responses=error_responses(404))
def show_mine(token_id: str, request: Request, db: DbDep) -> TokenOut:
    return token_out(db, _own(db, current_principal(request), token_id))


@router.delete("/tokens/{token_id}", responses=error_responses(404))
def revoke_mine(token_id: str, request: Request, db: DbDep) -> TokenOut:
    """Revoke one of your tokens: it, and every registry token issued from it, stop at once."""
    principal = current_principal(request)
    _own(db, principal, token_id)
    out = token_out(db, tokens.revoke_token(db, token_id))
    audit.record(db, "token.revoke", principal.username, params={"id": token_id}, status=200)
    return out


def _own(db: Database, principal: Principal, token_id: str) -> TokenRow:
    """The caller's token; another's is "not found", so its existence does not leak."""
    try:
        row = tokens.get_token(db, token_id)
    except tokens.TokenNotFound:
        row = None
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"you have no token {token_id!r}")
    return row
