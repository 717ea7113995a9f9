"""/ui/: a small read-only status page (plain HTML and vanilla JS polling /api/v1/status)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

HERE = Path(__file__).resolve().parent
# The only files served: a fixed table, so no path from the request reaches the filesystem.
FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}

router = APIRouter(include_in_schema=False)


@router.get("/ui")
def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/ui/")
def ui_page() -> FileResponse:
    return ui_file("")


@router.get("/ui/{name}")
def ui_file(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(status_code=404, detail="not found")
    filename, media_type = FILES[name]
    return FileResponse(HERE / filename, media_type=media_type, headers=_HEADERS)


_HEADERS = {
    "Cache-Control": "no-cache",
    # The page loads only its own script and style and talks only to this origin.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
