"""/ui/ in headless Chromium in each state of the platform: idle (no instance, no worker, no
task), instances, a task running with progress, a failed task, auth on without a token or
with a refused one, the database gone (503), the API gone. Each state fails on any console
error or uncaught exception of the page. One Chromium serves the module, and apps served in
this process (app_server.py): one without a worker for the idle and instance states, one with
a real worker (started at once, in the background) for the task states, one with auth on.
The docs' screenshots are made by scripts/ui_screenshots.py, not here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from api.cluster import InstanceAgent
from registry.cluster import gc_online, instances
from registry.maintenance.usage import RepositoryUsage, UsageResult
from registry.tasks.models import utcnow
from registry.tasks.usage import save_usage
from testbed.processes import deep_merge, free_port
from testbed.task_platform import (
    READY,
    Component,
    RedisNamespace,
    TaskPlatform,
    postgres_database,
    wait_until,
)
from tests.support.auth import ADMIN, auth_config
from tests.ui.app_server import AppServer
from tests.ui.devtools import Browser

pytestmark = pytest.mark.integration

# Each table's body as text: one list of cell texts per row.
TABLE = """[...document.querySelectorAll("#%s tbody tr")]
  .map((tr) => [...tr.cells].map((td) => td.innerText.trim()))"""
# What the page shows outside the tables, by element id; "" for a hidden element.
SHOWN = """Object.fromEntries(["error", "hint", "token-form", "worker-count", "workers",
  "queue-depth", "last-gc", "last-backup", "gc-run", "usage-summary", "updated"].map((id) => {
    const node = document.getElementById(id);
    return [id, node.hidden ? "" : node.innerText.trim()];
  }))"""


@dataclass
class Site:
    """The in-process app on a task platform's config, and its worker process (started at
    once, waited for by the tests that need it)."""

    platform: TaskPlatform
    app: AppServer
    worker: Component

    @property
    def page(self) -> str:
        return f"{self.app.url}/ui/"

    def with_worker(self) -> TaskPlatform:
        self.worker.wait_log(READY["worker"], timeout=90)
        return self.platform


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("ui"),
        config={"queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix}},
    )
    platform.write_config()  # the worker shares the app's database and broker
    worker = Component("worker", platform.config_file, platform.workdir / "worker.log").start()
    try:
        with AppServer(platform.full_config()) as app:
            platform.http = httpx.Client(base_url=app.url, timeout=30)
            yield Site(platform, app, worker)
            platform.http.close()
    finally:
        worker.kill()  # nothing of it to keep: no need to wait for a warm shutdown
        namespace.cleanup()


@pytest.fixture(scope="module", autouse=True)
def worker_starting(site: Site) -> None:
    """The worker takes seconds to start: it does while the states without it are shown."""


def bare_config(workdir: Path, **extra: Any) -> dict[str, Any]:
    """An app of its own: its own database, and the filesystem broker under it (no worker)."""
    base = {
        "data_dir": str(workdir / "var"),
        "docker_registry": {"http": {"addr": f"127.0.0.1:{free_port()}"}},
        # One heartbeat by hand stays live for the test, however loaded the machine.
        "cluster": {"instance_ttl": "120s"},
    }
    return deep_merge(base, extra)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The states without a worker: no instance, no task, then instances."""
    with AppServer(bare_config(tmp_path_factory.mktemp("ui-bare"))) as app:
        yield app


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Auth on, with the initial admin ADMIN."""
    with AppServer(bare_config(tmp_path_factory.mktemp("ui-auth"), **auth_config())) as app:
        yield app


def table(browser: Browser, table_id: str) -> list[list[str]]:
    rows: list[list[str]] = browser.evaluate(TABLE % table_id)
    return rows


def shown(browser: Browser) -> dict[str, str]:
    texts: dict[str, str] = browser.evaluate(SHOWN)
    return texts


def refreshed(browser: Browser) -> dict[str, str]:
    """What the page shows once it has rendered an answer of the API (or an error)."""

    def answered() -> dict[str, str] | None:
        texts = shown(browser)
        return texts if texts["updated"] != "loading…" or texts["error"] else None

    found: dict[str, str] = wait_until(answered, 15, "the page rendering an answer")
    return found


def problems(browser: Browser, allowed: str | None = None) -> list[str]:
    """The console errors and uncaught exceptions so far, but for those containing `allowed`."""
    return [p for p in browser.clear_problems() if not (allowed and allowed in p)]


def test_idle_page_says_each_table_is_empty(browser: Browser, bare: AppServer) -> None:
    browser.open(f"{bare.url}/ui/")
    page = refreshed(browser)

    assert table(browser, "instances") == [["no registry instance has registered"]]
    assert table(browser, "running") == [["no task is running"]]
    assert table(browser, "recent") == [["no task yet"]]
    assert page["worker-count"] == "0" and page["workers"] == "no worker answers"
    assert page["queue-depth"] == "0"
    assert page["last-gc"] == page["last-backup"] == page["gc-run"] == "never run"
    assert table(browser, "usage") == [["no repository"]]
    assert page["usage-summary"] == "not computed yet: run `hth-ctl usage --refresh`"
    assert page["error"] == page["hint"] == page["token-form"] == ""
    assert page["updated"].startswith("updated ")
    assert problems(browser) == []


def test_a_page_error_of_any_kind_is_noted(browser: Browser, bare: AppServer) -> None:
    """What the tests rely on: a bug of the page (like `fill` chaining `append`'s undefined,
    thrown inside the async poll) is noted, and so is a console error."""
    browser.open(f"{bare.url}/ui/")
    refreshed(browser)
    browser.evaluate(
        "setTimeout(() => { throw new TypeError('thrown'); });"
        "(async () => { throw new TypeError('rejected'); })();"
        "console.error('logged')"
    )

    noted: list[str] = []

    def three_noted() -> bool:
        noted.extend(browser.clear_problems())
        return len(noted) >= 3

    wait_until(three_noted, 5, "three problems noted")
    assert len(noted) == 3 and "console.error: logged" in noted
    assert any(p.startswith("uncaught: TypeError: thrown") for p in noted)
    assert any(p.startswith("uncaught: TypeError: rejected") for p in noted)


def test_instances_are_listed_with_their_text_escaped(browser: Browser, bare: AppServer) -> None:
    InstanceAgent(bare.settings, bare.state.gate).tick()  # this app joins the cluster
    marked_up = "<img src=x onerror=alert(1)>"
    other = instances.Heartbeat(
        "other:5000/1", "http://10.0.0.9:5000", "readonly", 2, 0, 0, utcnow(), f"<b>{marked_up}"
    )
    instances.beat(bare.db, other)
    browser.open(f"{bare.url}/ui/")

    rows = wait_until(lambda: len(table(browser, "instances")) == 2 and table(browser, "instances"))
    mine = next(r for r in rows if r[0] != "other:5000/1")
    theirs = next(r for r in rows if r[0] == "other:5000/1")
    address = f"http://{bare.settings.docker_registry.http.addr}"
    assert mine[1:6] == [address, "yes", "serving", "1", "0"]  # one process: this app
    assert theirs[1:6] == ["http://10.0.0.9:5000", "yes", f"readonly <b>{marked_up}", "1", "2"]
    assert browser.evaluate("document.querySelectorAll('main img, main b').length") == 0
    assert problems(browser) == []


def test_an_instance_with_a_process_count_shows_it(browser: Browser, bare: AppServer) -> None:
    """Instances as one row per server with `processes` (optional in the API's answer)."""
    browser.open(f"{bare.url}/ui/")
    refreshed(browser)
    instance = {"id": "host:5000", "address": "http://host:5000", "live": True}
    instance |= {"state": "serving", "detail": "", "inflight_writes": 0, "processes": 2}
    instance["process_detail"] = [
        {"pid": 7, "live": True, "state": "serving"},
        {"pid": 8, "live": False, "state": "serving"},
    ]
    cells = browser.evaluate(
        f"[...instanceRow({json.dumps(instance)}).cells].map((td) => [td.textContent, td.title])"
    )

    assert [text for text, _ in cells] == [
        "host:5000", "http://host:5000", "yes", "serving", "2", "0", "–"
    ]  # fmt: skip
    assert cells[4][1] == "pid 7: serving\npid 8: dead"
    assert problems(browser) == []


def test_the_newest_usage_run_lists_the_largest_repositories(
    browser: Browser, bare: AppServer
) -> None:
    pushed = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    repositories = [
        RepositoryUsage("team/app", "team", 3 * 2**20, 2**20, 4, 2, pushed),
        RepositoryUsage("team/<b>x</b>", "team", 1536, 0, 1, 0, None),
    ]
    result = UsageResult(utcnow(), 3 * 2**20 + 512, 2048, 5, repositories=repositories)
    save_usage(bare.db, "01a24f17-0000-7000-8000-000000000001", result)
    browser.open(f"{bare.url}/ui/")

    rows = wait_until(lambda: (t := table(browser, "usage")) != [["no repository"]] and t, 15)
    assert rows == [
        ["team/app", "3.0 MiB", "1.0 MiB", "4", "2", "2026-12-01 08:30:00"],
        ["team/<b>x</b>", "1.5 KiB", "0 B", "1", "0", "–"],
    ]
    assert shown(browser)["usage-summary"].startswith("total 3.0 MiB, a GC would free 2.0 KiB")
    assert problems(browser) == []


def test_an_online_gc_run_shows_its_phase_and_what_writes_kept(
    browser: Browser, bare: AppServer
) -> None:
    gc_online.start_run(bare.db, 7, "01a24f17-0000-7000-8000-000000000007")
    gc_online.update_run(bare.db, 7, phase="delete_blobs", kept_by_writes=3)
    browser.open(f"{bare.url}/ui/")

    text = wait_until(lambda: (t := shown(browser)["gc-run"]) != "never run" and t, 15)
    assert text == "run 7: running, phase delete_blobs, 3 kept because writes used them"
    assert problems(browser) == []


def submit_token(browser: Browser, token: str) -> None:
    browser.evaluate(
        f"document.getElementById('token').value = {json.dumps(token)};"
        "document.getElementById('token-form').requestSubmit()"
    )


def test_auth_without_a_token_says_one_is_needed_and_how(
    browser: Browser, auth_app: AppServer
) -> None:
    browser.open(f"{auth_app.url}/ui/")
    page = refreshed(browser)

    detail = "authentication required: a personal token or credentials"
    assert page["error"] == f"GET /api/v1/status: 401 Unauthorized: {detail}"
    assert "admin's personal access token" in page["hint"]
    assert "`hth-ctl tokens create ui`" in page["hint"] and page["token-form"].startswith("Admin")
    assert page["updated"] == "loading…" and table(browser, "recent") == []
    # Chromium logs the 401 answer as a failed load: the page's own code logs nothing.
    assert problems(browser, allowed="status of 401 (Unauthorized)") == []


def new_token(app: AppServer, username: str, admin: bool) -> str:
    with httpx.Client(base_url=app.url, auth=ADMIN, timeout=30) as http:
        if username != ADMIN[0]:
            user = {"username": username, "password": f"{username}-password-1", "admin": admin}
            assert http.post("/api/v1/users", json=user).status_code == 201
        created = http.post("/api/v1/tokens", json={"name": "ui", "user": username})
        assert created.status_code == 201, created.text
        token: str = created.json()["token"]
        return token


def test_auth_a_token_from_the_form_is_checked_and_used(
    browser: Browser, auth_app: AppServer
) -> None:
    browser.open(f"{auth_app.url}/ui/")
    refreshed(browser)
    try:
        submit_token(browser, "eyJhbGciOi.registry.jwt")
        not_a_token = shown(browser)
        submit_token(browser, new_token(auth_app, "viewer", admin=False))
        not_admin = wait_until(lambda: "403" in (t := shown(browser))["error"] and t, 10)
        submit_token(browser, new_token(auth_app, ADMIN[0], admin=True))
        admitted = wait_until(lambda: (t := shown(browser))["updated"] != "loading…" and t, 10)
    finally:
        browser.evaluate("localStorage.clear()")

    assert not_a_token["hint"].startswith("An admin's personal access token starts with hth_")
    assert not_a_token["error"].startswith("GET /api/v1/status: 401 Unauthorized: ")
    detail = "the management API is for admins (your own tokens: /api/v1/me/tokens)"
    assert not_admin["error"] == f"GET /api/v1/status: 403 Forbidden: {detail}"
    assert not_admin["hint"].startswith("This token's user is not an admin")
    assert admitted["error"] == admitted["hint"] == admitted["token-form"] == ""
    assert table(browser, "recent") == [["no task yet"]]
    allowed = ("status of 401 (Unauthorized)", "status of 403 (Forbidden)")
    assert [p for p in problems(browser) if not any(a in p for a in allowed)] == []


def running_row(browser: Browser, task_id: str) -> list[str] | None:
    """The task's row in "Running tasks" once it shows progress past 0."""
    row = next((r for r in table(browser, "running") if r[0] == task_id), None)
    return row if row and re.fullmatch(r"steps [1-9]\d*/600", row[3]) else None


def test_a_running_task_shows_its_progress_and_worker(browser: Browser, site: Site) -> None:
    platform = site.with_worker()
    task = platform.enqueue("noop", steps=600, step_seconds=0.05)
    try:
        browser.open(site.page)
        row = wait_until(lambda: running_row(browser, task["id"]), 20, "the task's progress")
        # A ping answer is cached for 5 s: the worker may show a little after its task.
        page = wait_until(lambda: (t := shown(browser))["worker-count"] == "1" and t, 10)
        worker = platform.task(task["id"])["worker"]
        has_bar = browser.evaluate(
            "!!document.querySelector('#running tbody progress[max=\"600\"]')"
        )
    finally:
        platform.api().post(f"/api/v1/tasks/{task['id']}/cancel")
        platform.wait_finished(task["id"])

    assert row[:3] == [task["id"], "noop", "running"] and row[4] == worker and has_bar
    assert page["workers"] and page["queue-depth"] == "0" and page["error"] == ""
    assert problems(browser) == []


def test_a_failed_task_shows_its_error(browser: Browser, site: Site) -> None:
    platform = site.with_worker()
    task = platform.wait_finished(platform.enqueue("noop", fail_permanent=True)["id"])
    assert task["state"] == "failed" and task["error"]
    browser.open(site.page)

    row = wait_until(
        lambda: next((r for r in table(browser, "recent") if r[0] == task["id"]), None)
    )
    assert row[1:3] == ["noop", "failed"] and row[3] == task["error"]
    assert (
        browser.evaluate("document.querySelector('#recent .task-error').innerText") == task["error"]
    )
    assert table(browser, "running") == [["no task is running"]]
    assert problems(browser) == []


def drop_database(url: str) -> None:
    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_an_api_error_then_no_api_are_said(browser: Browser, tmp_path: Path) -> None:
    """The database gone (a real fault: dropped under the app), then the server gone."""
    with postgres_database() as url:
        with AppServer(bare_config(tmp_path, database={"url": url})) as app:
            browser.open(f"{app.url}/ui/")
            before = refreshed(browser)
            drop_database(url)
            failing = wait_until(lambda: (t := shown(browser))["error"] and t, 10, "an error")
        try:
            gone = wait_until(lambda: "reach" in (t := shown(browser))["error"] and t, 10)
            seen = browser.clear_problems()
        finally:
            browser.open("about:blank")  # stops the page's polling of the dead port

    detail = "the task database is unavailable; try again shortly"
    assert failing["error"] == f"GET /api/v1/status: 503 Service Unavailable: {detail}"
    assert failing["hint"] == failing["token-form"] == ""
    assert gone["error"] == "cannot reach the API (Failed to fetch); retrying every second"
    assert gone["updated"] == failing["updated"] == before["updated"]  # the last answer stays
    allowed = ("status of 503 (Service Unavailable)", "net::ERR_CONNECTION_REFUSED")
    assert [p for p in seen if not any(a in p for a in allowed)] == []


def test_ui_serves_only_its_own_files(site: Site) -> None:
    api = site.platform.api()

    assert api.get("/ui", follow_redirects=False).headers["location"] == "/ui/"
    page = api.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert api.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/ui/favicon.svg").headers["content-type"] == "image/svg+xml"
    assert api.get("/ui/..%2Fapp.py").status_code == 404
    assert api.get("/ui/__init__.py").status_code == 404
