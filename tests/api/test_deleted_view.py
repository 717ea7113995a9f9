"""When /v2/ requests re-read the soft-deleted repositories: writes before answering, reads
after their answer is sent (so a pull neither waits for the listing nor shares the CPU with
it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.content import repositories
from registry.storage import StorageDriver
from tests.api.test_blobs import DIGEST, call, redirecting_app


def noting_answers(app: FastAPI, events: list[str]) -> ASGIApp:
    """`app`, noting in `events` when each answer has been sent in full."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_and_note(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("answer sent")

        await app(scope, receive, send_and_note)

    return wrapped


@pytest.fixture()
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Notes each listing of the soft-deleted repositories as it starts."""
    noted: list[str] = []
    list_deleted = repositories.deleted_names

    def noting(driver: StorageDriver) -> set[str]:
        noted.append("listing")
        return list_deleted(driver)

    monkeypatch.setattr(repositories, "deleted_names", noting)
    return noted


def stale_view_app(tmp_path: Path, events: list[str]) -> ASGIApp:
    """An app holding one blob in `cloud`, whose view of the deletes is stale but young
    enough for reads (older than its 1 s time to live, younger than 5 s)."""
    app = redirecting_app(tmp_path)
    repositories.deleted_repositories(app.state.hth.driver).refresh()
    time.sleep(1.1)
    events.clear()
    return noting_answers(app, events)


def wait_for_listing(events: list[str]) -> None:
    deadline = time.monotonic() + 10
    while "listing" not in events:
        assert time.monotonic() < deadline, "the view was never read again"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("digest", "status"),
    [(DIGEST, 307), (f"sha256:{'0' * 64}", 404)],
    ids=["answered", "failed"],
)
def test_a_read_on_a_stale_view_answers_first_and_then_reads_it_again(
    tmp_path: Path, events: list[str], digest: str, status: int
) -> None:
    app = stale_view_app(tmp_path, events)

    response = call(app, "GET", f"/v2/cloud/blobs/{digest}")
    wait_for_listing(events)

    assert response.status_code == status
    assert events == ["answer sent", "listing"]


def test_a_write_on_a_stale_view_reads_it_again_before_answering(
    tmp_path: Path, events: list[str]
) -> None:
    app = stale_view_app(tmp_path, events)

    response = call(app, "POST", "/v2/cloud/blobs/uploads/")

    assert response.status_code == 202
    assert events == ["listing", "answer sent"]
