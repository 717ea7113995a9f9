"""The embedded broker: a consumer polling while a producer writes never reads half a message."""

from __future__ import annotations

import threading
from pathlib import Path

from kombu import Connection

from worker import fs_transport

MESSAGES = 400


def options(folder: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0,
    }


def test_a_polling_consumer_receives_every_message_whole(tmp_path: Path) -> None:
    url = fs_transport.register()
    received: list[int] = []

    def consume() -> None:
        with Connection(url, transport_options=options(tmp_path)) as conn:
            queue = conn.SimpleQueue("q")
            while len(received) < MESSAGES:
                message = queue.get(timeout=20)
                received.append(message.payload["n"])
                message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    with Connection(url, transport_options=options(tmp_path)) as conn:
        queue = conn.SimpleQueue("q")
        for n in range(MESSAGES):
            queue.put({"n": n})
    consumer.join(60)
    assert sorted(received) == list(range(MESSAGES))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
