"""The access log line, text and JSON: method, path without query secrets, status, bytes,
duration, user, client address behind a trusted proxy, request id. In process: the app
answers through httpx's ASGI transport, from a chosen peer address."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.access_log import loggable_target
from api.app import create_app
from registry.config import parse_settings
from registry.logs import JsonFormatter, TextFormatter
from testbed.processes import RegistryProcess

ADMIN = ("root", "root-password-1")
PROXY, OUTSIDER = ("127.0.0.1", 4711), ("192.0.2.1", 4711)


class Peer:
    """Requests to the app in process as if from `address` (a blocking facade)."""

    def __init__(self, app: FastAPI, address: tuple[str, int]) -> None:
        self.app, self.address = app, address

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.address)
            async with httpx.AsyncClient(transport=transport, base_url="http://hth") as http:
                return await http.request(method, url, **options)

        return asyncio.run(send())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """Auth on, loopback a trusted proxy (the test client's peer is chosen per client)."""
    workdir: Path = tmp_path_factory.mktemp("access-log")
    settings = parse_settings(
        {
            "data_dir": str(workdir / "var"),
            "docker_registry": {"http": {"trusted_proxies": ["127.0.0.1"]}},
            "auth": {
                "enabled": True,
                "initial_admin": {"username": ADMIN[0], "password": ADMIN[1]},
                "api_body_limit": 1024,
            },
        }
    )
    return create_app(settings)


@pytest.fixture()
def access() -> Iterator[Records]:
    logger = logging.getLogger("hth.access")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _one_line(access: Records) -> tuple[str, dict[str, Any]]:
    """The request's record as the text and the JSON formatter write it."""
    assert len(access.records) == 1, [r.getMessage() for r in access.records]
    record = access.records[0]
    return TextFormatter().format(record), json.loads(JsonFormatter().format(record))


def test_a_text_line_says_who_asked_what_and_how_it_went(app: FastAPI, access: Records) -> None:
    client = Peer(app, PROXY)
    answer = client.get(
        "/v2/", auth=ADMIN, headers={"X-Forwarded-For": "203.0.113.7", "X-Request-Id": "req-42"}
    )
    text, _ = _one_line(access)

    assert answer.status_code == 200
    pattern = (
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO hth\.access GET /v2/ 200 "
        rf"{len(answer.content)}B \d+ms user=root client=203\.0\.113\.7 req=req-42"
    )
    assert re.fullmatch(pattern, text), text


def test_a_json_line_has_the_same_fields_as_keys(app: FastAPI, access: Records) -> None:
    client = Peer(app, PROXY)
    answer = client.get("/v2/", auth=ADMIN, headers={"X-Forwarded-For": "203.0.113.8"})
    _, entry = _one_line(access)

    assert entry["logger"] == "hth.access" and entry["level"] == "info"
    assert {k: entry[k] for k in ("method", "path", "status", "user", "client")} == {
        "method": "GET",
        "path": "/v2/",
        "status": 200,
        "user": "root",
        "client": "203.0.113.8",
    }
    assert entry["bytes_out"] == len(answer.content)
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    # No id came with the request: the one made up is answered and logged.
    assert entry["request_id"] == answer.headers["X-Request-Id"]
    assert entry["msg"].startswith("GET /v2/ 200 ")


def test_query_secrets_are_logged_by_name_only(app: FastAPI, access: Records) -> None:
    client = Peer(app, OUTSIDER)
    query = "n=10&last=v1&token=s3cr3t-token&X-Amz-Signature=s3cr3t-sig&_state=s3cr3t-state"
    client.get(f"/v2/team/app/tags/list?{query}", auth=ADMIN)
    text, entry = _one_line(access)

    expected = "/v2/team/app/tags/list?n=10&last=v1&token=***&X-Amz-Signature=***&_state=***"
    assert entry["path"] == expected
    assert f"GET {expected} " in text
    assert "s3cr3t" not in text and "s3cr3t" not in json.dumps(entry)


def test_an_anonymous_request_from_an_untrusted_peer(app: FastAPI, access: Records) -> None:
    client = Peer(app, OUTSIDER)
    answer = client.get("/v2/", headers={"X-Forwarded-For": "203.0.113.9"})
    text, entry = _one_line(access)

    assert answer.status_code == 401
    assert " 401 " in text and " user=- client=192.0.2.1 " in text
    assert entry["user"] is None and entry["client"] == "192.0.2.1"


def test_a_body_refused_by_the_api_limit_is_logged(app: FastAPI, access: Records) -> None:
    client = Peer(app, OUTSIDER)
    answer = client.post("/api/v1/users", auth=ADMIN, content=b"x" * 2048)
    _, entry = _one_line(access)

    assert answer.status_code == 413
    assert (entry["status"], entry["bytes_out"]) == (413, len(answer.content))


def test_an_unprintable_path_cannot_forge_a_line() -> None:
    assert loggable_target("/v2/a\nINFO fake", b"") == "/v2/a%0AINFO%20fake"
    assert loggable_target("/v2/", b"n=%0A5") == "/v2/?n=%0A5"


def test_the_audit_record_has_the_request_id_of_the_log_line(app: FastAPI, access: Records) -> None:
    client = Peer(app, PROXY)
    deleted = client.request("DELETE", "/api/v1/repositories/team/gone", auth=ADMIN)
    events = client.get("/api/v1/audit", params={"target": "team/gone"}, auth=ADMIN).json()

    assert deleted.status_code < 500
    assert events["items"][0]["request_id"] == deleted.headers["X-Request-Id"]
    assert access.records[0].__dict__["request_id"] == deleted.headers["X-Request-Id"]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_line_a_registry_process_logs_is_json_in_the_json_format(
    tmp_path: Path, workers: int
) -> None:
    """uvicorn's own lines (server started, shutdown) too, with one and with two workers."""
    config = {"logging": {"format": "json"}, "docker_registry": {"http": {"workers": workers}}}
    registry = RegistryProcess(tmp_path, config).start()
    try:
        assert httpx.get(f"{registry.url}/v2/").status_code == 200
    finally:
        registry.stop()
    lines = [line for line in registry.log_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    messages = [record["msg"] for record in records]
    assert not [record for record in records if "color_message" in record]
    assert any(message.startswith("Started server process") for message in messages)
    assert any(message.startswith("GET /v2/ 200") for message in messages), messages
