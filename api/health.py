"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.state import app_state
from registry.storage import StorageError
from worker.client import broker_problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the storage and the task broker answer."""
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(app_state(request).driver.list, "/")
        checks["storage"] = "ok"
    except StorageError as exc:
        checks["storage"] = f"failed: {exc}"
    broker = await run_in_threadpool(broker_problem, app_state(request).settings)
    checks["broker"] = "ok" if broker is None else f"failed: {broker}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
