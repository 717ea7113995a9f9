"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.state import AppState, app_state
from worker.client import broker_problem

log = logging.getLogger("hth.storage")
router = APIRouter(tags=["health"])


async def report_storage_at_startup(state: AppState) -> None:
    """Probe the storage once at startup and say so in the log. The process serves either
    way: operators see the failure in /readyz and the log, and nothing needs a restart once
    the backend (or its credentials) is fixed."""
    outcome = await state.storage_probe.check()
    if outcome == "ok":
        log.info("storage %s ready", state.driver.name)
    else:
        log.error(
            "storage %s not ready at startup (%s); serving anyway, /readyz answers 503 until it is",
            state.driver.name,
            outcome.removeprefix("failed: "),
        )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the storage and the task broker answer."""
    checks: dict[str, str] = {"storage": await app_state(request).storage_probe.check()}
    broker = await run_in_threadpool(broker_problem, app_state(request).settings)
    checks["broker"] = "ok" if broker is None else f"failed: {broker}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
