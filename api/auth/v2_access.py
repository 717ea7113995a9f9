"""The /v2 access check, called by `dispatch()` for every request: one rule per route and
method of `api.v2.dispatch.ROUTES` (a route without a rule is refused), then the audit of
deletes. Refusals follow Docker's token protocol: 401 with a Bearer challenge naming the
scope the request needs, or 403 DENIED when the user may not do it at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from api.auth.challenge import bearer_challenge
from api.auth.identify import Identity, TokenRefused, identify
from api.auth.runtime import auth_runtime, client_address, request_id
from registry import audit
from registry.auth.credentials import ANONYMOUS
from registry.auth.permissions import allowed_actions
from registry.content.names import is_digest
from registry.db.database import Database
from registry.errors import Denied, Unauthorized

log = logging.getLogger("hth.audit")
_STATE = "hth_identity"


@dataclass(frozen=True)
class Need:
    kind: Literal["login", "catalog", "repository"]
    action: str = ""

    def scope(self, name: str | None) -> str | None:
        if self.kind == "catalog":
            return "registry:catalog:*"
        if self.kind == "repository" and name:
            # A push also reads (HEAD of blobs and manifests): ask for both at once.
            actions = "pull,push" if self.action == "push" else self.action
            return f"repository:{name}:{actions}"
        return None


LOGIN, CATALOG = Need("login"), Need("catalog")
PULL, PUSH, DELETE = (
    Need("repository", "pull"),
    Need("repository", "push"),
    Need("repository", "delete"),
)

# (route label, method) -> what the request needs. Keep in step with dispatch.ROUTES: a
# test fails for any route or method without a rule here.
RULES: dict[tuple[str, str], Need] = {
    ("base", "GET"): LOGIN,
    ("base", "HEAD"): LOGIN,
    ("catalog", "GET"): CATALOG,
    ("tags", "GET"): PULL,
    ("manifest", "GET"): PULL,
    ("manifest", "HEAD"): PULL,
    ("manifest", "PUT"): PUSH,
    ("manifest", "DELETE"): DELETE,
    ("upload_start", "POST"): PUSH,
    ("upload", "GET"): PUSH,
    ("upload", "PATCH"): PUSH,
    ("upload", "PUT"): PUSH,
    ("upload", "DELETE"): PUSH,
    ("blob", "GET"): PULL,
    ("blob", "HEAD"): PULL,
    ("blob", "DELETE"): DELETE,
    ("referrers", "GET"): PULL,
}


async def authorize_v2(request: Request, label: str, params: dict[str, str]) -> None:
    """Raise Unauthorized (with a challenge) or Denied unless the request may proceed."""
    runtime = auth_runtime(request)
    if not runtime.enabled:
        _remember(request, Identity(ANONYMOUS))
        return
    need = RULES.get((label, request.method))
    name = params.get("name")
    challenge_scope = need.scope(name) if need else None
    try:
        identity = await identify(request)
    except Unauthorized as exc:
        error = "invalid_token" if isinstance(exc, TokenRefused) else None
        exc.headers["WWW-Authenticate"] = bearer_challenge(request, challenge_scope, error)
        raise
    _remember(request, identity)
    if need is None:
        raise Denied(f"no access rule for {request.method} on this endpoint")
    if await _satisfied(request, identity, need, name):
        return
    await _refuse(request, identity, need, name)


def _remember(request: Request, identity: Identity) -> None:
    setattr(request.state, _STATE, identity)
    actor = identity.principal.username
    audit.bind(audit.AuditContext(actor, client_address(request), request_id(request)))


async def _satisfied(request: Request, identity: Identity, need: Need, name: str | None) -> bool:
    if need.kind == "login":
        # Any valid credentials, or an anonymous token from our token endpoint.
        return not identity.anonymous or identity.access is not None
    if need.kind == "catalog":
        # Any user: the listing shows what they may pull (api/auth/catalog_access.py).
        if identity.access is not None:
            return "*" in identity.access.get(("registry", "catalog"), frozenset())
        return identity.principal.authenticated
    assert name is not None
    return await allows(request, identity, name, need.action)


async def allows(request: Request, identity: Identity, name: str, action: str) -> bool:
    """A JWT allows what it grants; other credentials what the user may do now."""
    if identity.access is not None:
        return action in identity.access.get(("repository", name), frozenset())
    return action in await _live_actions(request, identity, name)


async def _live_actions(request: Request, identity: Identity, name: str) -> set[str]:
    principal = identity.principal
    username = principal.username if principal.authenticated else None
    runtime = auth_runtime(request)
    return await runtime.with_db(allowed_actions, username, principal.admin, name, principal.limits)


async def _refuse(request: Request, identity: Identity, need: Need, name: str | None) -> None:
    """401 when other credentials could help (anonymous, or a token that asked for less than
    its user may do), else 403 DENIED."""
    scope = need.scope(name)
    if identity.anonymous:
        error_code = "insufficient_scope" if identity.access is not None else None
        error = Unauthorized("authentication required", detail=_detail(need, name))
        error.headers["WWW-Authenticate"] = bearer_challenge(request, scope, error_code)
        raise error
    if identity.access is not None and await _could(request, identity, need, name):
        error = Unauthorized("insufficient scope", detail=_detail(need, name))
        error.headers["WWW-Authenticate"] = bearer_challenge(request, scope, "insufficient_scope")
        raise error
    raise Denied(detail=_detail(need, name))


async def _could(request: Request, identity: Identity, need: Need, name: str | None) -> bool:
    """Whether the token's user may do it now (had it asked for the scope)."""
    if need.kind == "catalog":
        return identity.principal.authenticated
    if identity.principal.full_admin:
        return True
    if need.kind != "repository" or not name:
        return False
    return need.action in await _live_actions(request, Identity(identity.principal), name)


def _detail(need: Need, name: str | None) -> list[dict[str, str]] | None:
    if need.kind == "catalog":
        return [{"Type": "registry", "Name": "catalog", "Action": "*"}]
    if need.kind == "repository" and name:
        return [{"Type": "repository", "Name": name, "Action": need.action}]
    return None


def identity_of(request: Request) -> Identity | None:
    """Who `authorize_v2` let in (None before it ran)."""
    identity: Identity | None = getattr(request.state, _STATE, None)
    return identity


async def may_mount_from(request: Request, source: str) -> bool:
    """A cross-repository mount needs pull on the source; without it the client gets a
    plain upload instead (as Distribution does), never a 403 that would end its push."""
    identity = identity_of(request)
    if identity is None or not auth_runtime(request).enabled:
        return True
    return await allows(request, identity, source, "pull")


async def audit_v2(
    request: Request, label: str, params: dict[str, str], response: Response
) -> None:
    """Record a successful delete of a manifest, tag or blob."""
    if request.method != "DELETE" or response.status_code >= 400:
        return
    name = params.get("name", "")
    if label == "manifest":
        reference = params["reference"]
        digest = is_digest(reference)
        action = "manifest.delete" if digest else "tag.delete"
        target = f"{name}@{reference}" if digest else f"{name}:{reference}"
    elif label == "blob":
        action, target = "blob.delete", f"{name}@{params['digest']}"
    else:
        return
    try:
        await auth_runtime(request).with_db(_record, action, target, response.status_code)
    except SQLAlchemyError as exc:  # the delete happened: answer it all the same
        log.error("audit record %s %s not written: %s", action, target, exc)


def _record(db: Database, action: str, target: str, status: int) -> None:
    audit.record_quietly(db, action, target, status=status)
