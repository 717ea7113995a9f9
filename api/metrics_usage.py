"""Usage series for /metrics from the newest `usage` run in the task database: bytes per
namespace (the largest TOP_NAMESPACES, the rest summed under `_other`), totals, what a GC
would free and when it was computed. Nothing but the timestamp (0) before the first run.
The per-namespace series name the registry's content: with auth on, /metrics includes them
for an admin's credentials only (a scrape without gets the totals)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from registry.db.database import Database
from registry.tasks.usage import UsageRunRow, latest_run, namespaces
from registry.tasks.usage_result import NamespaceUsage

# Bounded cardinality: one series per namespace for the largest ones only.
TOP_NAMESPACES = 50
# Repository names start with [a-z0-9]: no namespace can be called this.
OTHER = "_other"


def bucketed(found: list[NamespaceUsage], top: int = TOP_NAMESPACES) -> list[NamespaceUsage]:
    """The `top` largest namespaces, then the rest summed into one `_other` entry."""
    largest = sorted(found, key=lambda n: (-n.size_bytes, n.namespace))
    kept, rest = largest[:top], largest[top:]
    if rest:
        kept.append(
            NamespaceUsage(
                OTHER,
                sum(n.size_bytes for n in rest),
                sum(n.unique_bytes for n in rest),
                sum(n.repositories for n in rest),
            )
        )
    return kept


def usage_metrics(db: Database, per_namespace: bool = True) -> Iterator[Metric]:
    run = latest_run(db)
    yield GaugeMetricFamily(
        "hth_usage_computed_timestamp_seconds",
        "When the newest usage run measured the storage (Unix time; 0: never)",
        run.computed_at.timestamp() if run else 0.0,
    )
    if run is None:
        return
    if per_namespace:
        yield from _namespace_metrics(db, run)
    yield GaugeMetricFamily(
        "hth_usage_total_bytes", "Blob bytes referenced, each blob once", run.total_bytes
    )
    yield GaugeMetricFamily(
        "hth_usage_gc_would_free_bytes",
        "Bytes a garbage collection would free now",
        run.gc_would_free_bytes,
    )


def _namespace_metrics(db: Database, run: UsageRunRow) -> Iterator[Metric]:
    size = GaugeMetricFamily(
        "hth_usage_bytes",
        "Blob bytes referenced by the namespace's repositories, each blob once",
        labels=["namespace"],
    )
    unique = GaugeMetricFamily(
        "hth_usage_unique_bytes",
        "Blob bytes referenced by the namespace and by no other one",
        labels=["namespace"],
    )
    for entry in bucketed(namespaces(db, run)):
        size.add_metric([entry.namespace], entry.size_bytes)
        unique.add_metric([entry.namespace], entry.unique_bytes)
    yield size
    yield unique
