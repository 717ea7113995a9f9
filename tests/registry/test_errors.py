"""Every error the core raises for a client is a RegistryError with its code and status:
content, task, auth and instance errors alike, so one handler can answer any of them."""

from __future__ import annotations

import pytest

from registry.auth.tokens import TokenError, TokenForbidden, TokenNotFound, TooManyTokens
from registry.auth.users import UserError, UserExists, UserNotFound
from registry.cluster.instances import UnknownInstance
from registry.errors import RegistryError
from registry.tasks.errors import TaskNotFound


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (UserError, 400, "BAD_REQUEST"),
        (UserNotFound, 404, "NOT_FOUND"),
        (UserExists, 409, "CONFLICT"),
        (TokenError, 400, "BAD_REQUEST"),
        (TokenNotFound, 404, "NOT_FOUND"),
        (TokenForbidden, 403, "FORBIDDEN"),
        (TooManyTokens, 409, "CONFLICT"),
        (UnknownInstance, 404, "NOT_FOUND"),
    ],
)
def test_auth_and_instance_errors_are_registry_errors(
    error: type[RegistryError], status: int, code: str
) -> None:
    raised = error("what went wrong")
    assert isinstance(raised, RegistryError)
    assert (raised.status, raised.code, str(raised)) == (status, code, "what went wrong")
    assert raised.body() == {"errors": [{"code": code, "message": "what went wrong"}]}


def test_they_keep_the_builtin_kind_callers_catch() -> None:
    # Validators and callers that catch ValueError / LookupError still see them.
    assert issubclass(UserError, ValueError) and issubclass(TokenError, ValueError)
    assert issubclass(UnknownInstance, LookupError)
    assert issubclass(TaskNotFound, RegistryError)
