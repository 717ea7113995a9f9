"""uvicorn's two HTTP/1.1 protocols (httptools, h11), each behind a HeadGuard.

`protocol_factory()` picks one the way uvicorn's "auto" does (httptools when installed)
unless the configuration names it, and binds the limits so that worker processes can
unpickle it. Only the parser picked is imported (api/protocol/httptools_guarded.py or
h11_guarded.py): h11 and uvicorn's h11 protocol are 0.4 MiB an HTTP worker on httptools
never uses (docs/benchmarks.md, "Footprint").
"""

from __future__ import annotations

import asyncio
import importlib.util
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast

from uvicorn.config import Config
from uvicorn.server import ServerState

from api.protocol.guard import HeadGuard, HeadLimits

if TYPE_CHECKING:
    from api.protocol.h11_guarded import GuardedH11
    from api.protocol.httptools_guarded import GuardedHttpTools

Parser = Literal["auto", "httptools", "h11"]


class _Guarded(asyncio.Protocol):
    """Routes a connection's bytes through its HeadGuard; `parse` is the parser underneath."""

    guard: HeadGuard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.guard.opened(cast(asyncio.Transport, transport))

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.guard.feed(data)

    def parse(self, data: bytes) -> None:
        super().data_received(data)


def _guarded(
    cls: type[GuardedHttpTools | GuardedH11],
    limits: HeadLimits,
    config: Config,
    server_state: ServerState,
    app_state: dict[str, Any],
    _loop: asyncio.AbstractEventLoop | None = None,
) -> asyncio.Protocol:
    connection = cls(config, server_state, app_state, _loop)
    connection.guard = HeadGuard(limits, connection.loop, connection)
    return connection


def resolve_parser(parser: Parser) -> Literal["httptools", "h11"]:
    """The parser "auto" stands for: httptools when it is installed, as in uvicorn."""
    if parser != "auto":
        return parser
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def protocol_factory(parser: Parser, limits: HeadLimits) -> type[asyncio.Protocol]:
    """What uvicorn's `http=` takes: a factory of guarded connections with `limits` bound."""
    cls: type[GuardedHttpTools | GuardedH11]
    if resolve_parser(parser) == "httptools":
        from api.protocol.httptools_guarded import GuardedHttpTools as cls
    else:
        from api.protocol.h11_guarded import GuardedH11 as cls
    # uvicorn calls it like a class; a partial of module-level names pickles for workers.
    return cast(type[asyncio.Protocol], partial(_guarded, cls, limits))
