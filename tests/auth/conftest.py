"""One registry with auth on, shared by the auth tests of a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth import AuthRegistry


@pytest.fixture(scope="package")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    registry = AuthRegistry.start(tmp_path_factory.mktemp("auth-registry"))
    yield registry
    registry.stop()
