"""Wiring auth into the app: the token endpoint, the per-process state, request limits,
validation errors that never echo input, and the initial admin; says in the log whether
auth is on and why."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api.auth import token_endpoint
from api.auth.limits import BodyLimitMiddleware
from api.auth.runtime import AuthRuntime
from registry.auth.mode import describe_mode
from registry.auth.users import count_admins, ensure_admin
from registry.config import ConfigError, Settings
from registry.config.password_policy import WeakPassword, check_policy
from registry.db.database import open_database

log = logging.getLogger("hth.auth")

ENV_USERNAME, ENV_PASSWORD = "HTH_ADMIN_USERNAME", "HTH_ADMIN_PASSWORD"


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Auth for the app: the token endpoint, body limits, JSON validation errors, the
    initial admin. Call it after every router is in: it documents their errors."""
    runtime = AuthRuntime.from_settings(settings)
    app.state.hth_auth = runtime
    app.include_router(token_endpoint.router)
    app.add_middleware(BodyLimitMiddleware, limit=settings.auth.api_body_limit)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    _document_errors_as_json(app)
    log.info(describe_mode(settings))
    bootstrap_admin(settings, runtime.enabled)


def initial_admin(settings: Settings) -> tuple[str, str] | None:
    """From auth.initial_admin, else $HTH_ADMIN_USERNAME/$HTH_ADMIN_PASSWORD."""
    configured = settings.auth.initial_admin
    if configured.username and configured.password:
        return configured.username, configured.password.get_secret_value()
    username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if bool(username) != bool(password):
        raise ConfigError(f"{ENV_USERNAME} and {ENV_PASSWORD} must be set together")
    return (username, password) if username and password else None


def bootstrap_admin(settings: Settings, enabled: bool) -> None:
    """Create the configured initial admin once; warn when auth is on and no admin exists."""
    admin = initial_admin(settings)
    if admin is None and not enabled:
        return
    if admin is not None:
        try:
            check_policy(admin[1])
        except WeakPassword as exc:
            raise ConfigError(f"auth.initial_admin.password: {exc}") from None
    try:
        db = open_database(settings)
        if admin is not None and ensure_admin(db, *admin):
            log.info("created the initial admin %r", admin[0])
        if enabled and count_admins(db) == 0:
            log.warning(
                "auth is on and no admin exists: set auth.initial_admin (or %s/%s) or run "
                "`hth-ctl users create-admin`",
                ENV_USERNAME,
                ENV_PASSWORD,
            )
    except SQLAlchemyError as exc:
        log.error("could not check the initial admin (database unavailable?): %s", exc)


def _document_errors_as_json(app: FastAPI) -> None:
    """Error answers are JSON even on a route whose success is text (FastAPI documents
    them with the route's media type; schemathesis found the mismatch)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in build().get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status.isdigit() and int(status) >= 400 and "text/plain" in content:
                            content["application/json"] = content.pop("text/plain")
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, minus the `input` it echoes (which may be a password)."""
    errors = [
        {key: value for key, value in error.items() if key not in ("input", "ctx", "url")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, 422)
