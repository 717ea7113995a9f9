"""The embedded broker (each test binds its own queue names: Kombu remembers bindings per
process): a consumer polling while a producer writes never reads half a message."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from kombu.simple import Empty

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


def test_a_message_file_appears_under_its_queue_name_only_once_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    visible_before: list[list[str]] = []
    rename = os.replace

    def observed_rename(source: str, target: str) -> None:
        queued = [p.name for p in tmp_path.iterdir() if p.name.endswith(".visible.msg")]
        visible_before.append(queued)
        assert json.loads(Path(source).read_bytes())["body"]  # written whole before it shows
        rename(source, target)

    with Connection(fs_transport.register(), transport_options=options(tmp_path)) as conn:
        queue = conn.SimpleQueue("visible")
        monkeypatch.setattr(fs_transport.os, "replace", observed_rename)
        queue.put({"n": 1})
    assert visible_before == [[]]
    assert [p.name.endswith(".visible.msg") for p in tmp_path.iterdir() if p.is_file()] == [True]


def test_a_polling_consumer_receives_every_message_whole(tmp_path: Path) -> None:
    url = fs_transport.register()
    received: list[int] = []
    with Connection(url, transport_options=options(tmp_path)) as conn:
        # Bound before the threads start: threads of one process share Kombu's record of
        # bindings, and one could publish before another has written the table it recorded.
        conn.SimpleQueue("polled")

    def consume() -> None:
        with Connection(url, transport_options=options(tmp_path)) as conn:
            queue = conn.SimpleQueue("polled")
            with suppress(Empty):  # a message lost: the assertion below says which
                while len(received) < MESSAGES:
                    message = queue.get(timeout=20)
                    received.append(message.payload["n"])
                    message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    with Connection(url, transport_options=options(tmp_path)) as conn:
        queue = conn.SimpleQueue("polled")
        for n in range(MESSAGES):
            queue.put({"n": n})
    consumer.join(60)
    assert sorted(received) == list(range(MESSAGES))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def bind_and_read(folder: Path, name: str, start: Any) -> None:
    """In a process of its own: bind the queue when every process is ready, read the table.
    (A new name each time: Kombu remembers bindings per process, forks included.)"""
    with Connection(fs_transport.register(), transport_options=options(folder)) as conn:
        start.wait()
        conn.SimpleQueue(name)
        tables = conn.default_channel.get_table(name)
    sys.exit(0 if [row.queue for row in tables] == [name] else 3)


def test_processes_binding_a_queue_at_once_never_see_an_empty_exchange_table(
    tmp_path: Path,
) -> None:
    # forkserver: children forked from a small server process, not from a pytest process
    # that has grown through the whole suite (forking that took 100 s in CI).
    forked = multiprocessing.get_context("forkserver")
    forked.set_forkserver_preload([__name__])
    for round_ in range(10):
        folder = tmp_path / str(round_)
        folder.mkdir()
        start = forked.Barrier(4)
        processes = [
            forked.Process(target=bind_and_read, args=(folder, f"bind{round_}", start))
            for _ in range(4)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        assert [process.exitcode for process in processes] == [0] * 4


def test_a_message_file_is_named_by_its_message_id_until_a_worker_takes_it(
    tmp_path: Path,
) -> None:
    with Connection(fs_transport.register(), transport_options=options(tmp_path)) as conn:
        queue = conn.SimpleQueue("named")
        queue.put({"n": 1}, headers={"id": "01a2b3c4-0000-7000-8000-000000000001"})
        queue.put({"n": 2}, headers={"id": "../../etc/passwd"})  # not a name: a fresh uuid
        waiting = fs_transport.queued_ids(tmp_path, "named")
        assert "01a2b3c4-0000-7000-8000-000000000001" in waiting and len(waiting) == 2
        assert all("/" not in name and ".." not in name for name in waiting)
        while (message := queue.get(timeout=5)).payload["n"] != 1:
            message.ack()
        message.ack()
        assert "01a2b3c4-0000-7000-8000-000000000001" not in fs_transport.queued_ids(
            tmp_path, "named"
        )
