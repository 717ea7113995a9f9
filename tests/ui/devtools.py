"""Headless Chromium driven over the DevTools protocol: open pages, read their DOM while they
poll, collect every console error and uncaught exception, and take screenshots."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from testbed.processes import stop_process
from testbed.task_platform import wait_until

HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
FLAGS = [
    *HEADLESS_FLAGS,
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class Browser:
    """One Chromium process and a connection to its first page. Every console error, failed
    load and uncaught exception of the page is kept in `problems` until `clear_problems()`."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 800) -> None:
        self.profile = profile
        self.size = (width, height)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: ClientConnection | None = None
        self.problems: list[str] = []
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        binary = shutil.which("chromium") or "chromium"
        width, height = self.size
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--window-size={width},{height}", f"--user-data-dir={self.profile}"]
            + ["about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        active = self.profile / "DevToolsActivePort"
        wait_until(lambda: active.exists() and active.read_text().strip(), 60, "Chromium up")
        port = int(active.read_text().split()[0])
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(p for p in pages if p["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.proc is not None:
            stop_process(self.proc)

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Sends one command and returns its result; events arriving meanwhile are noted."""
        assert self.ws is not None
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            answer = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if answer.get("id") != message_id:
                self._note(answer)
                continue
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer["result"]
            return result

    def _note(self, event: dict[str, Any]) -> None:
        """Keeps what a developer would see in red in the console."""
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"uncaught: {thrown}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            self.problems.append(f"console.{params['type']}: {' '.join(map(str, args))}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.problems.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}")

    def clear_problems(self) -> list[str]:
        """The problems noted so far (after reading any pending events), and forgets them."""
        self.evaluate("0")  # a round trip: events sent before it are read
        problems, self.problems = self.problems, []
        return problems

    def open(self, url: str) -> None:
        """Loads `url`; what the page shown before noted (its test has looked) is forgotten."""
        self.call("Page.navigate", url="about:blank")  # the previous page stops polling
        self.clear_problems()
        self.call("Page.navigate", url=url)
        wait_until(lambda: self.evaluate("document.readyState") == "complete", 30, "page loaded")

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
