"""Which repositories `/v2/_catalog` shows the caller: all of them with auth off or to an
admin, else those the user may pull now (its grants and the public ones), within the
limits of the token it came with. Decided at each request, whatever a JWT was issued for."""

from __future__ import annotations

from starlette.requests import Request

from api.auth.runtime import auth_runtime
from api.auth.v2_access import identity_of
from registry.auth.permissions import held_grants
from registry.auth.rights import Grants, PullFilter
from registry.db.database import Database


async def catalog_filter(request: Request) -> PullFilter | None:
    """None: everything is shown."""
    identity = identity_of(request)
    if identity is None or not auth_runtime(request).enabled:
        return None
    principal = identity.principal
    username = principal.username if principal.authenticated else None
    held = await auth_runtime(request).with_db(_held, username, principal.admin)
    sets = tuple(grants for grants in (held, principal.limits) if grants is not None)
    return PullFilter(sets) if sets else None


def _held(db: Database, username: str | None, admin: bool) -> Grants | None:
    return held_grants(db, username, admin)
