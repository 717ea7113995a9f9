"""The auth core's errors as typed API errors (V1Route answers them as {"detail": ...})."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from registry.auth.permissions import PermissionInvalid
from registry.auth.tokens import TokenError
from registry.auth.users import UserError
from registry.config.password_policy import WeakPassword
from registry.errors import RegistryError

T = TypeVar("T")


class BadRequest(RegistryError):
    code, status, default_message = "BAD_REQUEST", 400, "bad request"


class NotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "not found"


class Forbidden(RegistryError):
    code, status, default_message = "FORBIDDEN", 403, "forbidden"


class Conflict(RegistryError):
    code, status, default_message = "CONFLICT", 409, "conflict"


_BY_STATUS: dict[int, type[RegistryError]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def core(call: Callable[[], T]) -> T:
    """Run a call into the auth core, turning its errors into API errors."""
    try:
        return call()
    except (UserError, TokenError) as exc:
        raise _BY_STATUS.get(exc.status, BadRequest)(str(exc)) from None
    except (PermissionInvalid, WeakPassword) as exc:
        raise BadRequest(str(exc)) from None
