"""Personal access tokens, robot tokens and refresh tokens: `hth_<id>_<secret>`, shown
once, stored as a SHA-256 of the secret, revocable, optionally expiring."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from registry.auth.models import TokenRow, UserRow
from registry.auth.rights import Grants, to_json
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session, get_row
from registry.errors import RegistryError
from registry.tasks.models import utcnow

PREFIX = "hth_"
KINDS = ("personal", "robot", "refresh")
_TOKEN = re.compile(r"hth_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})")
_NAME = re.compile(r"[\w .@:/+-]{1,128}")


class TokenError(RegistryError, ValueError):
    """A request about personal access tokens that cannot be honoured."""

    code, status, default_message = "BAD_REQUEST", 400, "invalid token request"


class TokenNotFound(TokenError):
    code, status, default_message = "NOT_FOUND", 404, "no such token"


class TokenForbidden(TokenError):
    """A token asking for more than its user (or the credential asking for it) holds."""

    code, status, default_message = "FORBIDDEN", 403, "more than the user holds"


class TooManyTokens(TokenError):
    code, status, default_message = "CONFLICT", 409, "too many tokens"


@dataclass(frozen=True)
class IssuedSecret:
    """A token record with its plain text, which exists only in this answer."""

    row: TokenRow
    token: str


def looks_like_token(text: str) -> bool:
    return text.startswith(PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    db: Database,
    user: UserRow,
    name: str,
    kind: str,
    expires_at: datetime | None = None,
    client_id: str | None = None,
    permissions: Grants | None = None,
) -> IssuedSecret:
    if kind not in KINDS:
        raise TokenError(f"unknown token kind {kind!r}")
    if not _NAME.fullmatch(name):
        raise TokenError("token name: 1-128 letters, digits, spaces or . @ : / + - _")
    if expires_at is not None and expires_at <= utcnow():
        raise TokenError("expires_at is in the past")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = TokenRow(
        id=token_id,
        user_id=user.id,
        name=name,
        kind=kind,
        secret_hash=_digest(secret),
        created_at=utcnow(),
        expires_at=expires_at,
        client_id=client_id,
        permissions=to_json(permissions),
    )
    with Session(db.engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
    return IssuedSecret(row, f"{PREFIX}{token_id}_{secret}")


def expiry(ttl: timedelta | None) -> datetime | None:
    return utcnow() + ttl if ttl else None


def is_live(row: TokenRow, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def verify_token(db: Database, text: str) -> tuple[TokenRow, UserRow] | None:
    """The live token and its enabled user, or None for anything else."""
    found = _TOKEN.fullmatch(text)
    if found is None:
        return None
    token_id, secret = found[1], found[2]
    with Session(db.engine) as session:
        row = session.get(TokenRow, token_id)
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        user = session.get(UserRow, row.user_id)
    if user is None or user.disabled or not is_live(row):
        return None
    return row, user


def list_tokens(
    db: Database, user_id: str | None = None, kind: str | None = None
) -> list[TokenRow]:
    query = select(TokenRow).order_by(col(TokenRow.created_at).desc())
    if user_id is not None:
        query = query.where(col(TokenRow.user_id) == user_id)
    if kind is not None:
        query = query.where(col(TokenRow.kind) == kind)
    with Session(db.engine) as session:
        return list(session.exec(query).all())


def count_live(db: Database, user_id: str, kind: str) -> int:
    now = utcnow()
    return sum(1 for row in list_tokens(db, user_id, kind) if is_live(row, now))


def get_token(db: Database, token_id: str) -> TokenRow:
    return get_row(db, TokenRow, token_id, TokenNotFound(f"no token {token_id!r}"))


def revoke_token(db: Database, token_id: str) -> TokenRow:
    """Revoked at once: every JWT issued from it is refused from the next request on."""
    with Session(db.engine) as session:
        row = session.require(TokenRow, token_id, TokenNotFound(f"no token {token_id!r}"))
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
    return row


def bound_refresh_tokens(
    db: Database, user_id: str, client_id: str | None, per_client: int, per_user: int
) -> list[str]:
    """Revoke the user's oldest live refresh tokens beyond `per_client` for this client and
    `per_user` in all, and delete its dead (revoked or expired) ones beyond the newest
    `per_user`; the ids revoked. Run after issuing one: two logins racing agree on the set."""
    now = utcnow()
    query = (
        select(TokenRow)
        .where(col(TokenRow.user_id) == user_id, col(TokenRow.kind) == "refresh")
        .order_by(col(TokenRow.created_at).desc(), col(TokenRow.id).desc())
    )
    with Session(db.engine) as session:
        rows = list(session.exec(query).all())
        live = [row for row in rows if is_live(row, now)]
        mine = [row for row in live if row.client_id == client_id]
        revoked = {row.id for row in mine[per_client:]} | {row.id for row in live[per_user:]}
        dead = [row.id for row in rows if row.id in revoked or not is_live(row, now)]
        if revoked:
            session.exec(
                update(TokenRow)
                .where(col(TokenRow.id).in_(sorted(revoked)), col(TokenRow.revoked_at).is_(None))
                .values(revoked_at=now)
            )
        if len(dead) > per_user:
            session.exec(delete(TokenRow).where(col(TokenRow.id).in_(dead[per_user:])))
        session.commit()
    return sorted(revoked)
