"""Dependencies of the /api/v1/ routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.state import app_state
from registry.config import Settings
from registry.db.database import Database, open_database


def get_settings(request: Request) -> Settings:
    return app_state(request).settings


def get_db(request: Request) -> Database:
    """The task database (created and migrated on first use, then cached per process)."""
    return open_database(app_state(request).settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
