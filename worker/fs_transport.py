"""Kombu's filesystem transport with atomic message files (the embedded default's broker).

Kombu writes a message by creating `<time>_<uuid>.<queue>.msg` and then writing into it, so
a worker polling the folder in between moves and reads an empty file, fails to decode it
and stops ("Unrecoverable error: JSONDecodeError"); the first bind of a queue creates the
exchange table the same way, which a process starting at that moment reads empty. Here both
are written under a hidden name and put in place only once complete. A message file is
named `<time>_<message id>.<queue>.msg`, so the reaper can tell by a listing which task
messages still wait (`queued_ids`) and which a worker took.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

SCHEME = "hthfs"
_MESSAGE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")  # Celery's task ids: our UUIDv7s


def _message_id(message: Any) -> str:
    """The Celery message id (task id) when it is safe in a file name, else a fresh uuid."""
    headers = message.get("headers") if isinstance(message, dict) else None
    found = headers.get("id") if isinstance(headers, dict) else None
    return found if isinstance(found, str) and _MESSAGE_ID.match(found) else str(uuid.uuid4())


def queued_ids(folder: Path, queue: str) -> set[str]:
    """The ids of the messages of `queue` still in `folder`: not taken by any worker yet."""
    suffix = f".{queue}.msg"
    return {
        name.removesuffix(suffix).partition("_")[2]
        for name in os.listdir(folder)
        if name.endswith(suffix) and not name.startswith(".")
    }


class Channel(filesystem.Channel):
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{_message_id(message)}.{queue}.msg"
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
    return f"{SCHEME}://localhost/"  # a host, as Kombu expects one (else it warns each connect)
