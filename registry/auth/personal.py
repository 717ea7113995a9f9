"""Making personal access tokens, by their users (`/api/v1/me/tokens`) or by admins: a token
never carries more rights than its user holds, nor than the credential asking for it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from registry.auth.models import UserRow
from registry.auth.permissions import held_grants, validate_actions, validate_namespace
from registry.auth.rights import Grant, Grants, beyond
from registry.auth.tokens import (
    IssuedSecret,
    TokenForbidden,
    TooManyTokens,
    count_live,
    create_token,
)
from registry.db.database import Database


def parse_limits(entries: Iterable[tuple[str, Iterable[str]]]) -> Grants:
    """Validated limits from (namespace, actions) pairs; one grant per namespace."""
    merged: dict[str, set[str]] = {}
    for namespace, actions in entries:
        validate_namespace(namespace)
        # "" is no principal: the anonymous-only-pulls rule is not for limits
        merged.setdefault(namespace, set()).update(validate_actions("", actions))
    return tuple(Grant(ns, frozenset(actions)) for ns, actions in sorted(merged.items()))


def limits_for(
    db: Database, owner: UserRow, wanted: Grants | None, caller_limits: Grants | None
) -> Grants | None:
    """The limits of a new token of `owner`: `wanted` when the owner holds all of it and
    the caller's credential reaches that far (else TokenForbidden, naming what is missing);
    nothing wanted: the caller's own limits, so a limited token never makes a wider one."""
    if wanted is None:
        return caller_limits
    held = held_grants(db, owner.username, owner.admin)
    missing = dict.fromkeys(beyond(wanted, held) + beyond(wanted, caller_limits))
    if missing:
        raise TokenForbidden(
            f"a token cannot get more rights than its user has: {owner.username} may not "
            f"{', '.join(missing)}"
        )
    return wanted


def create_personal_token(
    db: Database,
    owner: UserRow,
    name: str,
    expires_at: datetime | None,
    wanted: Grants | None,
    caller_limits: Grants | None,
    max_live: int,
) -> IssuedSecret:
    """A personal (or, for a robot, robot) token within the rights above; at most `max_live`
    live ones per user, so that self-service cannot grow the table without bound."""
    kind = "robot" if owner.kind == "robot" else "personal"
    if count_live(db, owner.id, kind) >= max_live:
        raise TooManyTokens(
            f"{owner.username} has {max_live} live tokens (auth.personal_tokens_per_user): "
            "revoke some first"
        )
    limits = limits_for(db, owner, wanted, caller_limits)
    return create_token(db, owner, name, kind, expires_at, permissions=limits)
