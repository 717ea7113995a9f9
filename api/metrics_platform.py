"""Platform series for /metrics, computed from the task database at scrape time: tasks by
kind and state, queue depth, task durations, GC totals, last successful GC and backup, the
storage lease, the registry instances and the newest usage run. Every instance reports the
same cluster-wide values."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.metrics_usage import usage_metrics
from registry.config import Settings
from registry.db.database import open_database
from registry.platform_snapshot import WATCHED_KINDS, PlatformSnapshot, snapshot
from registry.tasks.states import State

log = logging.getLogger("hth.metrics")

DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
LEASE_MODES = ("readonly", "stop", "shared")
INSTANCE_STATES = ("serving", "readonly", "stopped")


def platform_exposition(settings: Settings, usage_per_namespace: bool = True) -> bytes:
    """The platform series as Prometheus text; `hth_platform_scrape_ok 0` when the database
    cannot be read (the scrape itself never fails). Without `usage_per_namespace`, the usage
    series are the totals only."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(settings, usage_per_namespace))
    return generate_latest(registry)


class PlatformCollector(Collector):
    def __init__(self, settings: Settings, usage_per_namespace: bool = True) -> None:
        self.settings = settings
        self.usage_per_namespace = usage_per_namespace

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily("hth_platform_scrape_ok", "1 when the task database was read")
        try:
            ttl = self.settings.cluster.instance_ttl
            db = open_database(self.settings)
            snap = snapshot(db, ttl)
        except Exception as exc:  # noqa: BLE001 - a scrape reports, it does not fail
            log.warning("platform metrics unavailable: %s", exc)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield from task_metrics(snap)
        yield from gc_metrics(snap)
        yield from cluster_metrics(snap)
        yield from usage_metrics(db, self.usage_per_namespace)


def task_metrics(snap: PlatformSnapshot) -> Iterator[Metric]:
    tasks = GaugeMetricFamily(
        "hth_tasks", "Task records by kind and state", labels=["kind", "state"]
    )
    for (kind, state), count in sorted(snap.tasks.items()):
        tasks.add_metric([kind, state], count)
    yield tasks
    yield GaugeMetricFamily("hth_task_queue_depth", "Tasks waiting for a worker", snap.queue_depth)
    durations = HistogramMetricFamily(
        "hth_task_duration_seconds", "Run time of finished tasks (start to end)", labels=["kind"]
    )
    for kind, seconds in sorted(snap.durations.items()):
        buckets = [(str(le), sum(1 for s in seconds if s <= le)) for le in DURATION_BUCKETS]
        buckets.append(("+Inf", len(seconds)))
        durations.add_metric([kind], buckets, sum(seconds))
    yield durations
    last = GaugeMetricFamily(
        "hth_last_success_timestamp_seconds",
        "When the newest successful task of the kind finished (Unix time; 0: never)",
        labels=["kind"],
    )
    for kind in WATCHED_KINDS:
        when = snap.last_success.get(kind)
        last.add_metric([kind], when.timestamp() if when else 0.0)
    yield last


def gc_metrics(snap: PlatformSnapshot) -> Iterator[Metric]:
    runs = GaugeMetricFamily("hth_gc_runs", "Finished GC tasks by final state", labels=["state"])
    for state in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
        runs.add_metric([state.value], snap.gc.runs.get(state.value, 0))
    yield runs
    yield GaugeMetricFamily(
        "hth_gc_blobs_deleted", "Blobs deleted by successful GC runs", snap.gc.blobs_deleted
    )
    yield GaugeMetricFamily(
        "hth_gc_bytes_freed", "Blob bytes freed by successful GC runs", snap.gc.bytes_freed
    )


def cluster_metrics(snap: PlatformSnapshot) -> Iterator[Metric]:
    held = GaugeMetricFamily(
        "hth_storage_lease_held",
        "1 while a task holds the storage lease in the mode",
        labels=["mode"],
    )
    for mode in LEASE_MODES:
        held.add_metric([mode], 1 if snap.lease and snap.lease.mode == mode else 0)
    yield held
    token = snap.lease.token if snap.lease else 0
    yield GaugeMetricFamily("hth_storage_lease_token", "Fencing token of the live lease", token)
    live = GaugeMetricFamily(
        "hth_instances",
        "Registry instances (servers) with a live heartbeat, by state",
        labels=["state"],
    )
    for state in sorted({*INSTANCE_STATES, *snap.instances}):
        live.add_metric([state], snap.instances.get(state, 0))
    yield live
    yield GaugeMetricFamily(
        "hth_instances_dead", "Registry instances whose heartbeat stopped", snap.instances_dead
    )
    yield GaugeMetricFamily(
        "hth_instance_processes",
        "HTTP worker processes of the live registry instances",
        snap.instance_processes,
    )
