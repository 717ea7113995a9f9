"""One registry HTTP worker process: `python -m api.http_worker FD` serves on the listening
socket FD it inherited from its supervisor (cli/supervisor.py), which bound it
(api.server.prepare_workers) and restarts a worker that dies. The settings come from
$HTH_CONFIG, the instance this process belongs to from the environment (api/cluster.py)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from api.server import uvicorn_options
from registry.config import load_settings


def main(argv: list[str]) -> None:
    listening = socket.socket(fileno=int(argv[0]))  # the family is read from the descriptor
    config = uvicorn.Config(**uvicorn_options(load_settings()))
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main(sys.argv[1:])
