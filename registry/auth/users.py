"""Users and robot accounts: create, read, change, delete, and the initial admin."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import delete

from registry.auth import permissions
from registry.auth.models import TokenRow, UserRow
from registry.auth.passwords import hash_password
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session, find_row, insert_row
from registry.errors import RegistryError
from registry.tasks.models import utcnow

ROBOT_PREFIX = "robot$"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
RESERVED = {permissions.ANONYMOUS, "admin-api", "token"}


class UserError(RegistryError, ValueError):
    """A request about users that cannot be honoured; `status` is its HTTP status."""

    code, status, default_message = "BAD_REQUEST", 400, "invalid user request"


class UserNotFound(UserError):
    code, status, default_message = "NOT_FOUND", 404, "no such user"


class UserExists(UserError):
    code, status, default_message = "CONFLICT", 409, "the user exists"


def validate_username(username: str, robot: bool = False) -> str:
    bare = username.removeprefix(ROBOT_PREFIX) if robot else username
    if not _USERNAME.fullmatch(bare) or bare in RESERVED:
        raise UserError(
            f"invalid username {username!r}: 1-64 of a-z 0-9 . _ - starting with a letter or "
            f"digit, not one of {', '.join(sorted(RESERVED))}"
        )
    return username


def robot_name(name: str) -> str:
    return name if name.startswith(ROBOT_PREFIX) else ROBOT_PREFIX + name


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str | None = None
    admin: bool = False
    robot: bool = False
    description: str = ""


def create_user(db: Database, new: NewUser) -> UserRow:
    username = robot_name(new.username) if new.robot else new.username
    validate_username(username, robot=new.robot)
    if new.robot and new.password is not None:
        raise UserError("robot accounts have no password: they authenticate with a token")
    if not new.robot and new.password is None:
        raise UserError("a password is required (there is no default password)")
    now = utcnow()
    row = UserRow(
        id=str(uuid.uuid4()),
        username=username,
        kind="robot" if new.robot else "user",
        password_hash=hash_password(new.password) if new.password is not None else None,
        admin=new.admin,
        description=new.description,
        created_at=now,
        updated_at=now,
    )
    return insert_row(db, row, UserExists(f"user {username!r} already exists"))


def find_user(db: Database, username: str) -> UserRow | None:
    with Session(db.engine) as session:
        return session.exec(select(UserRow).where(col(UserRow.username) == username)).first()


def user_by_id(db: Database, user_id: str) -> UserRow | None:
    return find_row(db, UserRow, user_id)


def get_user(db: Database, username: str) -> UserRow:
    row = find_user(db, username)
    if row is None:
        raise UserNotFound(f"no user {username!r}")
    return row


def list_users(db: Database) -> list[UserRow]:
    with Session(db.engine) as session:
        return list(session.exec(select(UserRow).order_by(col(UserRow.username))).all())


def update_user(
    db: Database,
    username: str,
    *,
    password: str | None = None,
    admin: bool | None = None,
    disabled: bool | None = None,
    description: str | None = None,
) -> UserRow:
    with Session(db.engine) as session:
        row = session.exec(select(UserRow).where(col(UserRow.username) == username)).first()
        if row is None:
            raise UserNotFound(f"no user {username!r}")
        if password is not None:
            if row.kind == "robot":
                raise UserError("robot accounts have no password")
            row.password_hash = hash_password(password)
        if admin is not None:
            row.admin = admin
        if disabled is not None:
            row.disabled = disabled
        if description is not None:
            row.description = description
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def delete_user(db: Database, username: str) -> None:
    """The user, its tokens and its grants: every credential of it stops working at once."""
    with Session(db.engine) as session:
        row = session.exec(select(UserRow).where(col(UserRow.username) == username)).first()
        if row is None:
            raise UserNotFound(f"no user {username!r}")
        session.exec(delete(TokenRow).where(col(TokenRow.user_id) == row.id))
        session.delete(row)
        session.commit()
    permissions.remove_all(db, username)


def count_admins(db: Database) -> int:
    with Session(db.engine) as session:
        query = select(UserRow).where(col(UserRow.admin), col(UserRow.disabled).is_(False))
        return len(session.exec(query).all())


def ensure_admin(db: Database, username: str, password: str) -> bool:
    """Create the initial admin unless a user of that name exists; True when created."""
    if find_user(db, username) is not None:
        return False
    try:
        create_user(db, NewUser(username=username, password=password, admin=True))
    except UserExists:  # another process of this instance won the race
        return False
    return True
