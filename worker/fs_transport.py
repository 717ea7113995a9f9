"""Kombu's filesystem transport with atomic message files (the embedded default's broker).

Kombu writes a message by creating `<time>_<uuid>.<queue>.msg` and then writing into it, so
a worker polling the folder in between moves and reads an empty file, fails to decode it
and stops ("Unrecoverable error: JSONDecodeError"); the first bind of a queue creates the
exchange table the same way, which a process starting at that moment reads empty. Here both
are written under a hidden name and put in place only once complete.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

SCHEME = "hthfs"


class Channel(filesystem.Channel):
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(message).encode())  # type: ignore[no-untyped-call]
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        table = self._exchange_file(exchange)  # type: ignore[no-untyped-call]
        self.control_folder.mkdir(exist_ok=True)
        if not table.exists():
            row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = table.with_name(f".{table.name}.{uuid.uuid4()}.partial")
            partial.write_bytes(dumps([row]).encode())  # type: ignore[no-untyped-call]
            try:
                os.link(partial, table)  # creates it whole, or fails if it exists
                return
            except FileExistsError:
                pass  # another process bound first: add this queue to its table below
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)  # type: ignore[no-untyped-call]


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> str:
    """Make `hthfs://` resolve to this transport in every process that builds the app."""
    TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
    return f"{SCHEME}://"
