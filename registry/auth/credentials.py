"""Who is asking: a password or token checked into a Principal, and a JWT's session
re-checked against the database (so deleting a user or revoking a token acts at once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from registry.auth.jwts import Claims
from registry.auth.models import TokenRow, UserRow
from registry.auth.passwords import verify_password
from registry.auth.rights import Grants, from_json
from registry.auth.tokens import is_live, looks_like_token, verify_token
from registry.auth.users import find_user
from registry.db.database import Database
from registry.db.session import Session


@dataclass(frozen=True)
class Principal:
    username: str
    user_id: str | None = None
    kind: str = "anonymous"  # anonymous | user | robot
    admin: bool = False
    token_id: str | None = None  # set when a token (not a password) was presented
    token_kind: str | None = None  # that token's kind: personal | robot | refresh
    # That token's limits: it may do at most this (and what its user may do). None: none.
    limits: Grants | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def full_admin(self) -> bool:
        """An admin with an unlimited credential: the management API is theirs."""
        return self.admin and self.limits is None


ANONYMOUS = Principal("anonymous")


def principal_of(user: UserRow, token: TokenRow | None = None) -> Principal:
    if token is None:
        return Principal(user.username, user.id, user.kind, user.admin)
    limits = from_json(token.permissions)
    return Principal(user.username, user.id, user.kind, user.admin, token.id, token.kind, limits)


class _VerifiedPasswords:
    """Remembers recent successful password checks (keyed by an HMAC of name and password
    with a per-process key) so that basic auth on every request skips the slow hash; an
    entry only counts while the stored hash is the one it was checked against."""

    def __init__(self, size: int = 1024) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def _mac(self, username: str, password: str) -> bytes:
        message = username.encode() + b"\0" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, username: str, password: str, stored_hash: str) -> bool:
        with self._lock:
            return self._entries.get(self._mac(username, password)) == stored_hash

    def remember(self, username: str, password: str, stored_hash: str) -> None:
        with self._lock:
            self._entries[self._mac(username, password)] = stored_hash
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_verified = _VerifiedPasswords()


def check_credentials(db: Database, username: str, secret: str) -> Principal | None:
    """A user's password or one of its tokens (robots: tokens only); None when wrong."""
    if looks_like_token(secret):
        found = verify_token(db, secret)
        if found is not None and found[1].username == username:
            return principal_of(found[1], found[0])
    user = find_user(db, username)
    usable = user is not None and not user.disabled and user.password_hash is not None
    stored = user.password_hash if usable and user is not None else None
    if stored is not None and _verified.known(username, secret, stored):
        assert user is not None
        return principal_of(user)
    if not verify_password(stored, secret) or user is None or stored is None:
        return None
    _verified.remember(username, secret, stored)
    return principal_of(user)


def check_bearer_token(db: Database, secret: str) -> Principal | None:
    """A personal or robot token presented as `Authorization: Bearer hth_...`."""
    found = verify_token(db, secret)
    return principal_of(found[1], found[0]) if found else None


def session_principal(db: Database, claims: Claims) -> Principal | None:
    """The principal behind a verified JWT, or None when its user was deleted or disabled
    or the token it was issued from was revoked or expired since."""
    if claims.user_id is None:
        return ANONYMOUS if claims.username == ANONYMOUS.username else None
    with Session(db.engine) as session:
        user = session.get(UserRow, claims.user_id)
        token = session.get(TokenRow, claims.token_id) if claims.token_id else None
    if user is None or user.disabled or user.username != claims.username:
        return None
    if claims.token_id is not None and (
        token is None or token.user_id != user.id or not is_live(token)
    ):
        return None
    return principal_of(user, token)
