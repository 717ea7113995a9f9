"""Namespace permissions: who may pull, push or delete in which repositories.

A grant on namespace `team` covers the repository `team` and every `team/...`; `*` covers
all. Grants to the principal `anonymous` apply to everyone (a publicly pullable namespace).
Admins may do everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import delete

from registry.auth.models import PermissionRow
from registry.auth.rights import Grant, Grants, actions_in, intersect_actions
from registry.auth.scopes import ACTIONS, Scope
from registry.content.names import NAME_PATTERN
from registry.db.database import Database
from registry.db.rows import col, select
from registry.db.session import Session
from registry.tasks.models import utcnow

ANONYMOUS = "anonymous"
EVERYTHING = "*"
ANONYMOUS_ACTIONS = frozenset({"pull"})

_NAMESPACE = re.compile(NAME_PATTERN)


class PermissionInvalid(ValueError):
    """A namespace or action list that cannot be granted."""


def validate_namespace(namespace: str) -> str:
    if namespace != EVERYTHING and (len(namespace) > 255 or not _NAMESPACE.fullmatch(namespace)):
        raise PermissionInvalid(f"invalid namespace {namespace!r} (a repository name or '*')")
    return namespace


def validate_actions(principal: str, actions: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(actions)
    unknown = wanted - frozenset(ACTIONS)
    if unknown or not wanted:
        raise PermissionInvalid(f"actions must be some of {', '.join(ACTIONS)}")
    if principal == ANONYMOUS and wanted - ANONYMOUS_ACTIONS:
        raise PermissionInvalid("anonymous users may only be granted pull")
    return wanted


def covers(namespace: str, repository: str) -> bool:
    return Grant(namespace, frozenset()).covers(repository)


def set_permission(db: Database, principal: str, namespace: str, actions: Iterable[str]) -> None:
    wanted = validate_actions(principal, actions)
    validate_namespace(namespace)
    with Session(db.engine) as session:
        row = session.get(PermissionRow, (principal, namespace))
        text = ",".join(a for a in ACTIONS if a in wanted)
        if row is None:
            row = PermissionRow(
                principal=principal, namespace=namespace, actions=text, updated_at=utcnow()
            )
        row.actions, row.updated_at = text, utcnow()
        session.add(row)
        session.commit()


def remove_permission(db: Database, principal: str, namespace: str) -> bool:
    with Session(db.engine) as session:
        row = session.get(PermissionRow, (principal, namespace))
        if row is None:
            return False
        session.delete(row)
        session.commit()
    return True


def remove_all(db: Database, principal: str) -> None:
    with Session(db.engine) as session:
        session.exec(delete(PermissionRow).where(col(PermissionRow.principal) == principal))
        session.commit()


def grants(db: Database, principal: str | None = None) -> list[PermissionRow]:
    """Grants of one principal (or all), ordered by principal and namespace."""
    query = select(PermissionRow).order_by(
        col(PermissionRow.principal), col(PermissionRow.namespace)
    )
    if principal is not None:
        query = query.where(col(PermissionRow.principal) == principal)
    with Session(db.engine) as session:
        return list(session.exec(query).all())


def held_grants(db: Database, username: str | None, admin: bool) -> Grants | None:
    """Everything `username` (None: anonymous) holds now: its grants and the public ones;
    None for an admin (everything)."""
    if admin:
        return None
    principals = [ANONYMOUS] if username is None else [ANONYMOUS, username]
    query = select(PermissionRow).where(col(PermissionRow.principal).in_(principals))
    with Session(db.engine) as session:
        rows = session.exec(query).all()
    return tuple(Grant(row.namespace, frozenset(row.actions.split(","))) for row in rows)


def allowed_actions(
    db: Database,
    username: str | None,
    admin: bool,
    repository: str,
    limits: Grants | None = None,
) -> set[str]:
    """What `username` (None: anonymous) may do in `repository` now, within a token's
    `limits` (None: the token, if any, has none)."""
    held = held_grants(db, username, admin)
    actions = set(ACTIONS) if held is None else actions_in(held, repository)
    return intersect_actions(actions, limits, repository)


def grant_scopes(
    db: Database,
    username: str | None,
    admin: bool,
    requested: list[Scope],
    limits: Grants | None = None,
) -> list[Scope]:
    """What a token may carry: each requested scope cut down to what the user may do (and
    its credential's `limits`). Any user may list the catalog: it shows what they may pull."""
    granted = []
    for scope in requested:
        if scope.type == "registry":
            actions = scope.actions if username is not None else frozenset()
        else:
            allowed = allowed_actions(db, username, admin, scope.name, limits)
            actions = scope.actions & frozenset(allowed)
        granted.append(Scope(scope.type, scope.name, actions))
    return granted
