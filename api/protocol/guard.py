"""Per-connection bounds on a request head: its size (431) and the time it takes (408).

uvicorn's parsers do not bound either the same way (httptools keeps any header it is fed,
h11 answers 400 past its limit; neither times out a head), so every byte is counted here
before a parser sees it, whichever parser runs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Protocol

MAX_HEAD_BYTES = 64 * 1024
# After a refusal the rest of what the client is sending is read and dropped for a while, so
# that our answer is not lost to a reset (closing on unread data makes the kernel send RST).
LINGER_QUIET = 2.0
LINGER_MAX = 10.0


@dataclass(frozen=True)
class HeadLimits:
    """What a connection may take: head bytes, seconds to send a head (picklable, for workers)."""

    header_timeout: float
    max_head_bytes: int = MAX_HEAD_BYTES


class Cycle(Protocol):
    """The part of uvicorn's request/response cycle (either parser's) the guard reads."""

    @property
    def more_body(self) -> bool: ...

    @property
    def response_complete(self) -> bool: ...


class Parsed(Protocol):
    """A connection whose parser the guard feeds: its current cycle, and the parser itself."""

    @property
    def cycle(self) -> Cycle | None: ...

    def parse(self, data: bytes) -> None: ...


def error_response(status: int, reason: str, code: str, message: str) -> bytes:
    """A closing answer whose body suits both APIs: OCI `errors` for /v2, `detail` for /api."""
    body = json.dumps({"errors": [{"code": code, "message": message}], "detail": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body.encode("ascii")


class HeadGuard:
    """Counts the bytes of each request head, times it, and refuses it when either runs out.

    A head starts when the connection opens and whenever the previous request's body is
    complete; it ends when the parser starts a new request/response cycle. Bytes are fed to
    the parser in slices that never take a head past the limit.
    """

    def __init__(
        self, limits: HeadLimits, loop: asyncio.AbstractEventLoop, connection: Parsed
    ) -> None:
        self.limits = limits
        self.loop = loop
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.head_bytes = 0
        self.cycle_seen: Cycle | None = None  # the cycle when the current head began
        self.timer: asyncio.TimerHandle | None = None
        self.lingering_since: float | None = None
        self.last_data = 0.0

    def opened(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._arm()

    def closed(self) -> None:
        self._disarm()

    def feed(self, data: bytes) -> None:
        """Hand `data` to the parser, counting what belongs to a head; refuse an oversized one."""
        if self.lingering_since is not None:
            self.last_data = self.loop.time()
            return
        self._head_ended()
        while data:
            if not _awaiting_head(self.connection.cycle):
                self.connection.parse(data)
                return
            room = self.limits.max_head_bytes - self.head_bytes
            piece, data = (data[:room], data[room:]) if len(data) > room else (data, b"")
            if not self._feed_head_piece(piece):
                return

    def _feed_head_piece(self, piece: bytes) -> bool:
        """Parse a slice of a head; False when the connection is done with (refused, closed)."""
        self.head_bytes += len(piece)
        self.connection.parse(piece)
        if self.transport is None or self.transport.is_closing():
            return False
        if self._head_ended():
            return True
        if self.head_bytes >= self.limits.max_head_bytes:
            limit = self.limits.max_head_bytes
            message = f"request line and headers exceed {limit} bytes"
            self.refuse(431, "Request Header Fields Too Large", "HEADER_TOO_LARGE", message)
            return False
        if self.timer is None:  # armed only for a head that did not come whole in one read
            self._arm()
        return True

    def _head_ended(self) -> bool:
        """Whether a new cycle began since the head started (a head is complete); if so, the
        next head starts from zero. Pipelined heads may complete outside `feed` (h11)."""
        if self.connection.cycle is self.cycle_seen:
            return False
        self.cycle_seen = self.connection.cycle
        self.head_bytes = 0
        self._disarm()
        return True

    def refuse(self, status: int, reason: str, code: str, message: str) -> None:
        """Answer with a closing error, then drop what the client still sends, then close."""
        assert self.transport is not None
        self._disarm()
        self.transport.write(error_response(status, reason, code, message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.lingering_since = self.last_data = self.loop.time()
        self.timer = self.loop.call_later(LINGER_QUIET, self._linger)

    def _linger(self) -> None:
        assert self.transport is not None and self.lingering_since is not None
        now = self.loop.time()
        end = min(self.lingering_since + LINGER_MAX, self.last_data + LINGER_QUIET)
        if now >= end or self.transport.is_closing():
            self.timer = None
            self.transport.close()
            return
        self.timer = self.loop.call_later(end - now, self._linger)

    def _arm(self) -> None:
        self.timer = self.loop.call_later(self.limits.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self.lingering_since is not None:
            return
        if self._head_ended():
            return  # it was complete after all; an idle keep-alive is uvicorn's to time out
        cycle = self.connection.cycle
        if cycle is not None and not cycle.response_complete:
            # We are still answering the previous request; its client is not the one late.
            self._arm()
        elif self.head_bytes == 0:
            transport.close()  # nothing was asked: a silent close, as for an idle keep-alive
        else:
            seconds = f"{self.limits.header_timeout:g}"
            message = f"request headers not complete within {seconds}s"
            self.refuse(408, "Request Timeout", "REQUEST_TIMEOUT", message)


def _awaiting_head(cycle: Cycle | None) -> bool:
    """Whether the next byte belongs to a request head (no request yet, or its body is done)."""
    return cycle is None or not cycle.more_body
