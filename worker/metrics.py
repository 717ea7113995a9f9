"""The worker's Prometheus exporter: task attempts by kind and outcome, their durations and the
attempts running now. Attempts run in the prefork pool's processes, which write their samples
to files in a folder private to this worker; the main process serves the sums on
`queue.worker_metrics_port`."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import celery
from celery.signals import worker_process_init
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from registry.ports import Listener, unavailable_message

log = logging.getLogger("hth.worker.metrics")

# How an attempt ended; "failed" also covers an exception escaping the runner.
OUTCOMES = ("succeeded", "failed", "cancelled", "retried", "superseded")
FOLDER_PREFIX = "hth-worker-metrics-"  # then the worker's pid
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class Series:
    """The series the pool processes update (values live in the multiprocess files)."""

    def __init__(self) -> None:
        self.started = Counter(
            "hth_worker_tasks_started_total", "Task attempts started", ["kind"], registry=None
        )
        self.finished = Counter(
            "hth_worker_tasks_finished_total",
            "Task attempts ended, by outcome (succeeded, failed, cancelled, retried, superseded)",
            ["kind", "outcome"],
            registry=None,
        )
        self.duration = Histogram(
            "hth_worker_task_duration_seconds",
            "Run time of task attempts (lease wait included)",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=None,
        )
        # livesum: the files of a pool process that died are dropped at the next scrape.
        self.running = Gauge(
            "hth_worker_tasks_running",
            "Task attempts running now",
            ["kind"],
            multiprocess_mode="livesum",
            registry=None,
        )


_series: Series | None = None  # set by start_exporter; None: recording is off


class Attempt:
    """What the runner reports about one attempt."""

    outcome = "failed"


@contextlib.contextmanager
def attempt(kind: str) -> Iterator[Attempt]:
    """Counts one attempt of a task of `kind`; the body sets `.outcome`."""
    record = Attempt()
    series = _series
    if series is None:
        yield record
        return
    series.started.labels(kind).inc()
    running = series.running.labels(kind)
    running.inc()
    started = time.monotonic()
    try:
        yield record
    finally:
        running.dec()
        series.duration.labels(kind).observe(time.monotonic() - started)
        series.finished.labels(kind, record.outcome).inc()


class PoolCollector(Collector):
    """The pool processes' samples, summed; live gauges of processes gone are forgotten."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = MultiProcessCollector(None, path=str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for path in self.folder.glob("gauge_live*_*.db"):
            pid = int(path.stem.rpartition("_")[2])
            if not _alive(pid):
                mark_process_dead(pid, str(self.folder))  # type: ignore[no-untyped-call]
        collected: Iterable[Metric] = self.files.collect()  # type: ignore[no-untyped-call]
        return collected


class WorkerCollector(Collector):
    """hth_worker_up and hth_worker_info, from the main process."""

    def __init__(self, node: str, concurrency: int) -> None:
        self.labels = {"node": node, "concurrency": str(concurrency), "celery": celery.__version__}

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hth_worker_up", "1 while the worker's main process answers")
        up.add_metric([], 1)
        yield up
        info = InfoMetricFamily("hth_worker", "The worker's node name and pool size")
        info.add_metric([], self.labels)
        yield info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Exporter:
    """The HTTP server and the samples folder of one worker; close() removes both."""

    def __init__(self, folder: Path, server: Any | None) -> None:
        self.folder = folder
        self.server = server

    def close(self) -> None:
        global _series
        _series = None
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_exporter(listener: Listener | None, node: str, concurrency: int) -> Exporter | None:
    """Before the pool forks: samples go to a fresh folder, the main process serves them on
    `listener` (registry.ports.worker_metrics_listener). None when there is none
    (`queue.worker_metrics_port` is 0); a port in use is logged, not fatal."""
    global _series
    if listener is None:
        return None
    _remove_stale_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # prometheus_client picks file-backed values when it is first imported; this process may
    # have imported it earlier, and the series below and the pool's must use the files.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    _series = Series()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(folder))
    registry.register(WorkerCollector(node, concurrency))
    host, port = listener.host, listener.port
    try:
        server, _ = start_http_server(port, host, registry)
    except OSError as exc:
        log.warning("worker metrics not served: %s", unavailable_message(listener, exc))
        return Exporter(folder, None)
    _close_in_pool_processes(server.socket)
    log.info("worker metrics at http://%s:%d/metrics", host, port)
    return Exporter(folder, server)


def _remove_stale_folders() -> None:
    """Folders left by workers that were killed (close() never ran)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(FOLDER_PREFIX).partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _close_in_pool_processes(listener: socket.socket) -> None:
    """A forked pool process inherits the listening socket: close its copy, so that the port
    is free as soon as the main process ends."""

    def close(**_: object) -> None:
        listener.close()

    worker_process_init.connect(close, weak=False)
