"""Conformance: what every driver does when its settings or its backend fail it, written once
for the drivers of the table in conftest.py: redirects turned off, a wrong secret, a backend
stopped or frozen. What only one driver shows (a bad GCS keyfile, an OSS read cut mid-body,
a frozen Swift proxy) stays in that driver's own test file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from registry.storage import StorageError, create_driver
from tests.storage.conftest import DRIVERS, OwnBackend, WrongCredentials, assert_unavailable

REDIRECTING = [name for name, case in DRIVERS.items() if case.redirects]
CHECKING_CREDENTIALS = [name for name, case in DRIVERS.items() if case.wrong_credentials]
WITH_OWN_BACKEND = [name for name, case in DRIVERS.items() if case.own_backend]


@pytest.mark.parametrize("name", REDIRECTING)
def test_redirect_off_in_settings_means_no_url(name: str, request: pytest.FixtureRequest) -> None:
    case = DRIVERS[name]
    driver = create_driver(case.driver or name, case.settings(request) | {"redirect": False})
    try:
        driver.put_content("/blob", b"x")
        assert driver.redirect_url("/blob") is None
        driver.delete("/blob")
    finally:
        driver.close()


@pytest.mark.parametrize("name", CHECKING_CREDENTIALS)
def test_wrong_secret_is_a_clear_error_naming_the_driver_and_the_setting(
    name: str, request: pytest.FixtureRequest
) -> None:
    case = DRIVERS[name]
    wrong = case.wrong_credentials
    assert isinstance(wrong, WrongCredentials)
    settings = (wrong.settings or case.settings)(request) | {wrong.key: wrong.value}
    driver = create_driver(case.driver or name, settings)
    calls: list[Callable[[], object]] = [
        lambda: driver.put_content("/file", b"x"),
        lambda: driver.get_content("/file"),
    ]
    try:
        for call in calls:
            with pytest.raises(StorageError) as caught:
                call()
            message = str(caught.value)
            assert message.startswith(wrong.denied)
            assert wrong.key in message
            # Neither unavailable nor not found: not worth a retry, the config is wrong.
            assert type(caught.value) is StorageError
    finally:
        driver.close()


def _own_backend(name: str) -> OwnBackend:
    own_backend = DRIVERS[name].own_backend
    assert own_backend is not None
    return own_backend


@pytest.mark.parametrize("name", WITH_OWN_BACKEND)
def test_stopped_backend_gives_storage_unavailable(
    name: str, tmp_path: Path, short_timeouts: None
) -> None:
    server, settings = _own_backend(name)(tmp_path)
    try:
        driver = create_driver(DRIVERS[name].driver or name, settings)
        driver.put_content("/some/file", b"x")
    finally:
        server.stop()
    assert_unavailable(driver)


@pytest.mark.parametrize("name", WITH_OWN_BACKEND)
def test_frozen_backend_gives_storage_unavailable(
    name: str, tmp_path: Path, short_timeouts: None
) -> None:
    server, settings = _own_backend(name)(tmp_path)
    try:
        driver = create_driver(DRIVERS[name].driver or name, settings)
        driver.put_content("/some/file", b"x")
        server.freeze()
        assert_unavailable(driver, every_call=False)
    finally:
        server.stop()
