"""api/lazy_routers.py: /api/v1 routers come in with their first request, each on its own,
checked before they serve; the OpenAPI document and the route table end as if every router
had been added at start."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from api.app import create_app
from api.lazy_routers import V1_ROUTERS, LazyRouters, router_of
from api.v1.guard_check import flat_routes
from registry.config import parse_settings

with warnings.catch_warnings():
    # Starlette asks for `httpx2` behind its TestClient; the httpx it falls back to works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(parse_settings({"data_dir": str(tmp_path)}))


def lazy_of(app: FastAPI) -> LazyRouters:
    (lazy,) = [r for r in app.router.routes if isinstance(r, LazyRouters)]
    return lazy


def v1_paths(app: FastAPI) -> list[str]:
    """The paths of the routers' routes (not FastAPI's own /api/v1/openapi.json)."""
    return [
        path
        for path, route in flat_routes(app.routes)
        if path.startswith("/api/v1/") and isinstance(route, APIRoute)
    ]


def routes_of(prefixes: Iterable[str]) -> list[str]:
    """The paths of these routers' routes, in the table's order."""
    wanted = set(prefixes)
    return [
        route.path
        for prefix in V1_ROUTERS
        if prefix in wanted
        for route in router_of(prefix).routes
        if isinstance(route, APIRoute)
    ]


def test_a_new_app_has_no_v1_router_and_imports_none() -> None:
    code = (
        "import sys, tempfile\n"
        "from api.app import create_app\n"
        "from registry.config import parse_settings\n"
        "create_app(parse_settings({'data_dir': tempfile.mkdtemp()}))\n"
        "from api.lazy_routers import V1_ROUTERS\n"
        "loaded = [m for m in V1_ROUTERS.values() if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_first_request_adds_its_router_only_and_is_answered(app: FastAPI) -> None:
    assert v1_paths(app) == []
    with TestClient(app) as client:
        assert client.get("/api/v1/tasks").status_code == 200
        assert client.get("/api/v1/tasks?limit=2").status_code == 200
    assert list(lazy_of(app).added) == ["/api/v1/tasks"]
    assert all(path.startswith("/api/v1/tasks") for path in v1_paths(app))


def test_unknown_paths_and_methods_answer_as_without_laziness(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/api/v1/nothing-here").status_code == 404
        assert client.get("/api/v1/tasks/not-a-uuid/deeper/still").status_code == 404
        assert client.delete("/api/v1/status").status_code == 405
        assert client.get("/api/v1/tasksx").status_code == 404
    assert set(lazy_of(app).added) == {"/api/v1/tasks", "/api/v1/status"}


def test_the_openapi_document_is_the_same_whatever_came_first(tmp_path: Path) -> None:
    first = create_app(parse_settings({"data_dir": str(tmp_path / "a")}))
    with TestClient(first) as client:
        assert client.get("/api/v1/users").status_code == 200
        assert client.get("/api/v1/audit").status_code == 200
        served = client.get("/api/v1/openapi.json").json()
    second = create_app(parse_settings({"data_dir": str(tmp_path / "b")}))
    assert served == second.openapi()
    assert v1_paths(first) == v1_paths(second)
    listed = [path for path in served["paths"] if path.startswith("/api/v1/")]
    prefixes = [next(p for p in V1_ROUTERS if path.startswith(p)) for path in listed]
    assert prefixes == sorted(prefixes, key=list(V1_ROUTERS).index)  # the table's order
    assert set(prefixes) == set(V1_ROUTERS)


def test_every_table_entry_is_a_router_for_its_prefix() -> None:
    for prefix in V1_ROUTERS:
        assert router_of(prefix).prefix == prefix


def test_an_unguarded_router_is_refused_and_never_served(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    router_of("/api/v1/tasks")  # its module imported
    sneaky = APIRouter(prefix="/api/v1/tasks")

    @sneaky.get("")
    def open_to_all() -> dict[str, str]:
        return {}

    monkeypatch.setattr(sys.modules["api.v1.tasks"], "router", sneaky)
    with pytest.raises(RuntimeError, match="/api/v1/tasks must use"):
        lazy_of(app).add("/api/v1/tasks")
    assert v1_paths(app) == [] and lazy_of(app).added == {}


def test_concurrent_first_requests_add_each_router_once(app: FastAPI) -> None:
    paths = [f"/api/v1/{name}" for name in ("tasks", "users", "audit", "schedules")] * 8

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(*(client.get(path) for path in paths))
        return [answer.status_code for answer in answers]

    assert asyncio.run(burst()) == [200] * len(paths)
    assert sorted(lazy_of(app).added) == sorted(set(paths))
    assert v1_paths(app) == routes_of(lazy_of(app).added)  # each once, in the table's order


@pytest.fixture
def threads_client(app: FastAPI) -> Iterator[list[TestClient]]:
    clients = [TestClient(app) for _ in range(4)]
    yield clients
    for client in clients:
        client.close()


def test_first_requests_on_several_threads_add_each_router_once(
    app: FastAPI, threads_client: list[TestClient]
) -> None:
    paths = ["/api/v1/tasks", "/api/v1/backups", "/api/v1/tokens", "/api/v1/retention-policies"]
    jobs = [(client, path) for client in threads_client for path in paths]
    with ThreadPoolExecutor(len(jobs)) as pool:
        codes = list(pool.map(lambda job: job[0].get(job[1]).status_code, jobs))
    assert codes == [200] * len(jobs)
    assert sorted(lazy_of(app).added) == sorted(paths)
    assert v1_paths(app) == routes_of(lazy_of(app).added)
