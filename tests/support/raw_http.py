"""Raw-socket HTTP/1.1 for tests that must send what a client library would refuse."""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class RawResponse:
    status: int
    head: bytes
    body: bytes


# What a peer that closed or reset its side looks like, in plain TCP and in TLS.
CLOSED = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


class RawConnection:
    """One TCP (or TLS) connection to 127.0.0.1:`port`, with a read buffer for its answers."""

    def __init__(self, port: int, timeout: float = 60.0, tls: ssl.SSLContext | None = None):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_quietly(self, data: bytes) -> bool:
        """Send `data`; False when the server had closed its side first (not an error here)."""
        try:
            self.sock.sendall(data)
        except CLOSED:
            return False
        return True

    def response(self) -> RawResponse:
        """The next response, its body read by Content-Length (what the registry sends)."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._receive():
                raise ConnectionError(f"closed before a whole response head: {self.buffer!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(found.group(1)) if found else 0
        while len(self.buffer) < length and self._receive():
            pass
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(parse_status(head), head, body)

    def until_closed(self) -> tuple[float, bytes]:
        """Seconds until the server closes the connection, and all it sent until then."""
        started = time.monotonic()
        while self._receive():
            pass
        data, self.buffer = self.buffer, b""
        return time.monotonic() - started, data

    def _receive(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except CLOSED:
            return False
        self.buffer += chunk
        return bool(chunk)


def parse_status(data: bytes) -> int:
    found = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    if not found:
        raise AssertionError(f"not an HTTP response: {data[:80]!r}")
    return int(found.group(1))


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid` and every descendant (uvicorn workers), in KiB."""
    total = 0
    for each in [pid, *_descendants(pid)]:
        status = Path(f"/proc/{each}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            found += [child, *_descendants(child)]
    return found
