"""Tables of auth (registry/db/rows.py): users (and robots), tokens, namespace permissions,
signing keys, failed logins.

The schema is owned by the Alembic migrations `0003_auth.py`, `0006_login_limits.py` and
`0008_user_tokens.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, Text

from registry.db.rows import Field, Row
from registry.tasks.models import utc_time, utc_time_or_none


class UserRow(Row, table=True):
    __tablename__ = "auth_users"

    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=128, unique=True)
    kind: str = Field(default="user", max_length=16)  # user | robot
    # argon2id; None for robots, which authenticate with their tokens only.
    password_hash: str | None = Field(default=None, max_length=255)
    admin: bool = False
    disabled: bool = False
    description: str = Field(default="", max_length=1024)
    created_at: datetime = utc_time()
    updated_at: datetime = utc_time()


class TokenRow(Row, table=True):
    __tablename__ = "auth_tokens"

    id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(index=True, max_length=36)
    name: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # personal | robot | refresh
    # SHA-256 of the secret part: tokens are long random strings, a slow hash adds nothing.
    secret_hash: str = Field(max_length=64)
    created_at: datetime = utc_time()
    expires_at: datetime | None = utc_time_or_none()
    revoked_at: datetime | None = utc_time_or_none()
    # Refresh tokens: the OAuth2 client_id that asked for it (at most N live per client).
    client_id: str | None = Field(default=None, max_length=128)
    # A personal token's limits, [{namespace, actions}]: it may do at most this, and at most
    # what its user may do at the time of use. None: all its user's rights.
    permissions: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))


class PermissionRow(Row, table=True):
    __tablename__ = "auth_permissions"

    # A username, or "anonymous" for what everyone may do (a publicly pullable namespace).
    principal: str = Field(primary_key=True, max_length=128)
    namespace: str = Field(primary_key=True, max_length=255)  # "*" for every repository
    actions: str = Field(max_length=64)  # comma-separated: pull,push,delete
    updated_at: datetime = utc_time()


class SigningKeyRow(Row, table=True):
    __tablename__ = "auth_signing_keys"

    kid: str = Field(primary_key=True, max_length=32)
    # In the database so that every instance of a cluster verifies what any one issued.
    private_pem: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = utc_time()


class LoginFailureRow(Row, table=True):
    """One failed login, kept for the login window (every process and instance counts them)."""

    __tablename__ = "auth_login_failures"
    __table_args__ = (
        Index("ix_auth_login_failures_username_at", "username", "at"),
        Index("ix_auth_login_failures_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Seconds since the epoch: compared with a window, never shown.
    at: float = Field(sa_column=Column(Float(), nullable=False))
    address: str = Field(max_length=64)
    username: str = Field(max_length=128)
