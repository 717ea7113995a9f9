"""Usage gauges keep a bounded number of series: the largest namespaces, then `_other`."""

from __future__ import annotations

from api.metrics_usage import OTHER, bucketed
from registry.maintenance.usage import NamespaceUsage


def test_the_largest_namespaces_keep_a_series_and_the_rest_is_summed() -> None:
    found = [
        NamespaceUsage(f"ns{n}", size_bytes=n, unique_bytes=1, repositories=2) for n in range(60)
    ]

    kept = bucketed(found, top=50)

    assert len(kept) == 51
    assert kept[0].namespace == "ns59" and kept[49].namespace == "ns10"
    assert kept[50] == NamespaceUsage(OTHER, sum(range(10)), 10, 20)


def test_no_other_bucket_when_every_namespace_fits() -> None:
    found = [NamespaceUsage("b", 1, 1, 1), NamespaceUsage("a", 1, 0, 1)]
    assert [n.namespace for n in bucketed(found, top=2)] == ["a", "b"]
