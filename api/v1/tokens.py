"""/api/v1/tokens: personal access tokens and robot tokens (admins only). A token's text is
in the answer that creates it and nowhere else; revoking one takes effect at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth.admin import current_principal
from api.v1.auth_errors import BadRequest, core
from api.v1.deps import DbDep
from api.v1.errors import V1Route, error_responses
from registry import audit
from registry.auth import tokens, users
from registry.auth.models import TokenRow
from registry.durations import parse_duration
from registry.tasks.db import Database

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], route_class=V1Route)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, examples=["ci pipeline"])
    user: str | None = Field(default=None, description="whose token; default: the caller")
    expires_in: str | None = Field(default=None, examples=["720h"], description="a duration")

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


class TokenOut(BaseModel):
    id: str
    name: str
    kind: str
    user: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    live: bool
    client_id: str | None = Field(default=None, description="refresh tokens: the client's id")


class TokenCreated(TokenOut):
    token: str = Field(description="the secret: shown only in this answer")


class TokenPage(BaseModel):
    items: list[TokenOut]


def _out(db: Database, row: TokenRow, names: dict[str, str] | None = None) -> TokenOut:
    if names is None:
        owner = users.user_by_id(db, row.user_id)
        names = {row.user_id: owner.username if owner else "(deleted)"}
    fields = row.model_dump(include={"id", "name", "kind", "created_at", "expires_at"})
    return TokenOut(
        **fields,
        revoked_at=row.revoked_at,
        client_id=row.client_id,
        user=names.get(row.user_id, "(deleted)"),
        live=tokens.is_live(row),
    )


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
    items = [_out(db, row, names) for row in rows if include_revoked or tokens.is_live(row)]
    return TokenPage(items=items)


@router.post("", status_code=201, responses=error_responses(400, 404, 422))
def create(body: TokenIn, request: Request, response: Response, db: DbDep) -> TokenCreated:
    """A new token for a user or robot (`user`, default the caller)."""
    owner_name = body.user or current_principal(request).username
    if body.user is None and not current_principal(request).authenticated:
        raise BadRequest("name the token's user (auth is off, so there is no caller)")
    owner = core(lambda: users.get_user(db, owner_name))
    kind = "robot" if owner.kind == "robot" else "personal"
    ttl = parse_duration(body.expires_in) if body.expires_in else None
    issued = core(lambda: tokens.create_token(db, owner, body.name, kind, tokens.expiry(ttl)))
    params = {"name": body.name, "id": issued.row.id, "expires_in": body.expires_in}
    audit.record(db, "token.create", owner.username, params=params, status=201)
    response.headers["Location"] = f"/api/v1/tokens/{issued.row.id}"
    return TokenCreated(**_out(db, issued.row).model_dump(), token=issued.token)


@router.get("/{token_id}", responses=error_responses(404))
def show(token_id: str, db: DbDep) -> TokenOut:
    return _out(db, core(lambda: tokens.get_token(db, token_id)))


@router.delete("/{token_id}", responses=error_responses(404))
def revoke(token_id: str, db: DbDep) -> TokenOut:
    """Revoke: the token, and every registry token issued from it, stop working at once."""
    row = core(lambda: tokens.revoke_token(db, token_id))
    out = _out(db, row)
    audit.record(db, "token.revoke", out.user, params={"id": token_id}, status=200)
    return out
