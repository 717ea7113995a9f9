"""Token bodies shared by /api/v1/tokens (admins) and /api/v1/me/tokens (users), and the
one way both make a token: within the rights of its user and of the caller's credential."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from api.v1.auth_errors import core
from api.v1.bodies import RequestBody
from api.v1.users import Grant
from registry import audit
from registry.auth import tokens, users
from registry.auth.credentials import Principal
from registry.auth.models import TokenRow, UserRow
from registry.auth.personal import create_personal_token, parse_limits
from registry.auth.rights import from_json
from registry.config import Settings
from registry.db.database import Database
from registry.durations import Duration, duration_text

LIMITS_DESCRIPTION = (
    "limit the token to these namespaces and actions, each within what its user holds "
    "(else 403); default: all its user's rights (or, asked with a limited token, that "
    "token's limits). Its user's rights are checked again at every use."
)


class MyTokenIn(RequestBody):
    name: str = Field(min_length=1, max_length=128, examples=["ci pipeline"])
    expires_in: Duration | None = Field(
        default=None, examples=["720h", 86400], description="a duration, or seconds"
    )
    permissions: list[Grant] | None = Field(
        default=None, min_length=1, max_length=100, description=LIMITS_DESCRIPTION
    )

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


class TokenIn(MyTokenIn):
    user: str | None = Field(default=None, description="whose token; default: the caller")


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
    permissions: list[Grant] | None = Field(
        default=None, description="the token's limits; null: all its user's rights"
    )


class TokenCreated(TokenOut):
    token: str = Field(description="the secret: shown only in this answer")


class TokenPage(BaseModel):
    items: list[TokenOut]


def token_out(db: Database, row: TokenRow, names: dict[str, str] | None = None) -> TokenOut:
    if names is None:
        owner = users.user_by_id(db, row.user_id)
        names = {row.user_id: owner.username if owner else "(deleted)"}
    fields = row.model_dump(include={"id", "name", "kind", "created_at", "expires_at"})
    limits = from_json(row.permissions)
    return TokenOut(
        **fields,
        revoked_at=row.revoked_at,
        client_id=row.client_id,
        user=names.get(row.user_id, "(deleted)"),
        live=tokens.is_live(row),
        permissions=None if limits is None else [_grant(g.as_dict()) for g in limits],
    )


def _grant(entry: dict[str, object]) -> Grant:
    return Grant.model_validate(entry)


def issue_token(
    db: Database, settings: Settings, owner: UserRow, body: MyTokenIn, caller: Principal
) -> TokenCreated:
    """A personal (or robot) token of `owner`, audited as `token.create`."""
    ttl = body.expires_in
    asked = [(grant.namespace, grant.actions) for grant in body.permissions or []]
    wanted = core(lambda: parse_limits(asked)) if body.permissions is not None else None
    per_user = settings.auth.personal_tokens_per_user
    issued = core(
        lambda: create_personal_token(
            db, owner, body.name, tokens.expiry(ttl), wanted, caller.limits, per_user
        )
    )
    params = {
        "name": body.name,
        "id": issued.row.id,
        "expires_in": None if ttl is None else duration_text(ttl),
        "permissions": issued.row.permissions,
    }
    audit.record(db, "token.create", owner.username, params=params, status=201)
    return TokenCreated(**token_out(db, issued.row).model_dump(), token=issued.token)
