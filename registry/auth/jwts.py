"""Short-lived registry tokens: ES256 JWTs in Docker's format (`access` claim), signed with
a key kept in the database so that every instance of a cluster verifies them."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from registry.auth.models import SigningKeyRow
from registry.auth.scopes import Scope, parse_claim
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session, get_row
from registry.tasks.models import utcnow

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# PyJWT and `cryptography` (~10 MiB together) are imported where a token is signed or
# checked: a registry whose clients never use token auth does without them.

ALGORITHM = "ES256"
# Instances of a cluster may disagree on the time by a little.
LEEWAY_SECONDS = 10


class TokenInvalid(Exception):
    """A bearer token that is malformed, badly signed, for another service or expired."""


@dataclass(frozen=True)
class Claims:
    username: str
    user_id: str | None
    token_id: str | None  # the personal/robot/refresh token it was issued from
    access: dict[tuple[str, str], frozenset[str]]
    expires_at: int


@dataclass(frozen=True)
class Issued:
    token: str
    expires_in: int
    issued_at: str


_lock = threading.Lock()
_keys: dict[tuple[str, str], ec.EllipticCurvePrivateKey] = {}


def _load(pem: str) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _signing_key(db: Database) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """The newest key, created on first use (a racing instance's key wins, once)."""
    with Session(db.engine) as session:
        row = session.exec(
            select(SigningKeyRow).order_by(col(SigningKeyRow.created_at).desc())
        ).first()
    if row is None:
        row = _create_key(db)
    return row.kid, _key_by_id(db, row.kid, row.private_pem)


def _create_key(db: Database) -> SigningKeyRow:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # A fixed kid for the first key: two instances racing insert the same row only once.
    row = SigningKeyRow(kid="k1", private_pem=pem, created_at=utcnow())
    with Session(db.engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = session.get(SigningKeyRow, "k1")
            assert existing is not None
            return existing
        session.refresh(row)
    return row


def _key_by_id(db: Database, kid: str, pem: str | None = None) -> ec.EllipticCurvePrivateKey:
    cache_key = (str(db.engine.url), kid)
    with _lock:
        key = _keys.get(cache_key)
    if key is not None:
        return key
    if pem is None:
        missing = TokenInvalid("token signed with an unknown key")
        pem = get_row(db, SigningKeyRow, kid, missing).private_pem
    key = _load(pem)
    with _lock:
        _keys[cache_key] = key
    return key


def issue(
    db: Database,
    service: str,
    ttl_seconds: int,
    username: str,
    user_id: str | None,
    token_id: str | None,
    access: list[Scope],
) -> Issued:
    import jwt

    kid, key = _signing_key(db)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": service,
        "sub": username,
        "aud": service,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "access": [scope.claim() for scope in access if scope.actions],
        "hth": {"uid": user_id, "tid": token_id, "n": secrets.token_hex(4)},
    }
    token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})
    issued_at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return Issued(token, ttl_seconds, issued_at)


def looks_like_jwt(text: str) -> bool:
    return text.count(".") == 2 and text.startswith("eyJ")


def verify(db: Database, service: str, token: str) -> Claims:
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise TokenInvalid("unsupported token")
        public = _key_by_id(db, kid).public_key()
        claims = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            audience=service,
            issuer=service,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("token expired") from None
    except jwt.PyJWTError:
        raise TokenInvalid("token invalid") from None
    extra = claims.get("hth")
    if not isinstance(extra, dict):
        extra = {}
    return Claims(
        username=str(claims["sub"]),
        user_id=_str_or_none(extra.get("uid")),
        token_id=_str_or_none(extra.get("tid")),
        access=parse_claim(claims.get("access")),
        expires_at=int(claims["exp"]),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
