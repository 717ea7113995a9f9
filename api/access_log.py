"""One access log line per request, that a person can read: method, path (query values only
for harmless parameters), status, bytes sent, duration, user, client address, request id.
In JSON the same fields are keys of their own (docs/logging.md)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection
from starlette.types import Scope

from registry.auth.credentials import Principal

log = logging.getLogger("hth.access")

# Query parameters whose values are kept: paging, digests, mounts, token scopes. Every other
# parameter is logged by name only (`sig=***`): signatures, tokens, states and passwords must
# never reach a log, and a list of what is harmless stays correct as new parameters appear.
SAFE_QUERY_KEYS = frozenset(
    # /v2 (paging, mounts, referrers) and /auth/token
    {"n", "last", "digest", "mount", "from", "artifactType", "service", "scope", "account"}
    | {"client_id", "offline_token"}
    # /api/v1 listings
    | {"limit", "cursor", "status", "kind", "schedule", "include_revoked", "actor", "action"}
    | {"target", "since", "until"}
)
HIDDEN = "***"  # as the secrets of `hth-ctl show-config`
MAX_VALUE_CHARS = 200
MAX_PATH_CHARS = 2048
# The scope["state"] keys the auth code and the middleware leave for this line.
USER_KEY = "hth_access_user"
REQUEST_ID_KEY = "hth_request_id"
# Characters that would break a line apart or hide in a terminal: shown as %XX.
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def note_user(connection: HTTPConnection, principal: Principal) -> None:
    """The auth code says who the request is from (nothing said: anonymous)."""
    if principal.authenticated:
        setattr(connection.state, USER_KEY, principal.username)


def request_id_of(connection: HTTPConnection) -> str | None:
    """The id the middleware gave this request (the client's X-Request-Id, or a new one)."""
    value = getattr(connection.state, REQUEST_ID_KEY, None)
    return value if isinstance(value, str) else None


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(lambda match: f"%{ord(match.group()):02X}", text)


def loggable_target(path: str, query_string: bytes) -> str:
    """The path and its query, values only for SAFE_QUERY_KEYS, within a bounded length."""
    target = _printable(path[:MAX_PATH_CHARS])
    query = query_string.decode("latin-1")
    if not query:
        return target
    parts = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        shown = value[:MAX_VALUE_CHARS] if key in SAFE_QUERY_KEYS else HIDDEN
        parts.append(f"{_printable(key[:MAX_VALUE_CHARS])}={_printable(shown)}")
    return f"{target}?{'&'.join(parts)}" if parts else target


@dataclass(frozen=True)
class Exchange:
    """What the middleware measured of one request."""

    request_id: str
    route: str
    status: int
    bytes_in: int
    bytes_out: int
    seconds: float


def write(scope: Scope, exchange: Exchange) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    state: dict[str, Any] = scope.get("state") or {}
    user = state.get(USER_KEY)
    fields = {
        "method": scope["method"],
        "path": loggable_target(scope["path"], scope.get("query_string", b"")),
        "status": exchange.status,
        "bytes_out": exchange.bytes_out,
        "duration_ms": round(exchange.seconds * 1000, 2),
        "user": user if isinstance(user, str) else None,
        "client": client[0] if client else None,
        "request_id": exchange.request_id,
        "route": exchange.route,
        "bytes_in": exchange.bytes_in,
    }
    line = (
        f"{fields['method']} {fields['path']} {exchange.status} {exchange.bytes_out}B "
        f"{round(exchange.seconds * 1000)}ms user={_printable(fields['user'] or '-')} "
        f"client={fields['client'] or '-'} req={_printable(exchange.request_id)}"
    )
    log.info(line, extra=fields)
