"""The API app served by uvicorn on a thread of the test process: a real HTTP server for a
browser, started in a fraction of a second, whose database the test reads and writes."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from api.app import create_app
from api.state import AppState
from registry.config import parse_settings
from registry.db.database import Database, open_database
from testbed.task_platform import wait_until


class AppServer:
    """create_app(settings) on 127.0.0.1:port. Without the lifespan (the default) the app
    does not join the cluster: no instance is listed until a test makes one beat."""

    def __init__(self, config: dict[str, Any], lifespan: bool = False) -> None:
        """`config`: an hth.json document; the app listens on its docker_registry.http.addr."""
        self.settings = parse_settings(config)
        self.port = int(self.settings.docker_registry.http.addr.rpartition(":")[2])
        self.app = create_app(self.settings)
        server_config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on" if lifespan else "off",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(server_config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.hth
        return state

    @property
    def db(self) -> Database:
        return open_database(self.settings)

    def __enter__(self) -> AppServer:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 30, "app serving")
        if not self.server.started:
            raise RuntimeError(f"uvicorn did not start on {self.url}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.state.driver.close()
