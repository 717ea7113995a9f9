"""What one running API process holds: its settings and its storage driver."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from api.cluster import WriteGate
from registry.config import Settings
from registry.storage import StorageDriver, create_driver


@dataclass
class AppState:
    settings: Settings
    driver: StorageDriver
    gate: WriteGate = field(default_factory=WriteGate)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        registry_settings = settings.docker_registry
        driver = create_driver(registry_settings.storage_driver, settings.driver_settings())
        return cls(settings=settings, driver=driver)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.hth
    return state


def get_driver(request: Request) -> StorageDriver:
    """The storage driver to use for this request."""
    return app_state(request).driver
