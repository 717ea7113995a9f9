"""Pools the samples of several `storage_bench.py --json` runs: per driver and metric, the
median of every sample of ours and of Distribution's, their ratio, and a bootstrap 95% interval
of that ratio, which says whether the runs can tell the two registries apart at all.

    .venv/bin/python bench/pool_results.py run1.json run2.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

Samples = dict[str, dict[str, dict[str, list[float]]]]  # driver -> registry -> metric -> MiB/s


def pool(files: list[Path]) -> Samples:
    pooled: Samples = {}
    for path in files:
        for driver, registries in json.loads(path.read_text()).items():
            for registry, metrics in registries.items():
                for metric, values in metrics.items():
                    into = pooled.setdefault(driver, {}).setdefault(registry, {})
                    into.setdefault(metric, []).extend(values)
    return pooled


def ratio_interval(ours: list[float], theirs: list[float], draws: int) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the ratio of medians when both sides' samples are
    drawn again, with replacement, `draws` times."""
    rng = random.Random(0)  # the same files give the same interval
    ratios = sorted(
        statistics.median(rng.choices(ours, k=len(ours)))
        / statistics.median(rng.choices(theirs, k=len(theirs)))
        for _ in range(draws)
    )
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def report(pooled: Samples, draws: int = 10_000) -> None:
    """Per driver and metric: samples, medians, their ratio and its 95% interval."""
    for driver, registries in pooled.items():
        ours, theirs = registries.get("ours", {}), registries.get("Distribution", {})
        print(f"\n{driver} (MiB/s, median of every sample)")
        print(f"  {'metric':34} {'n':>4} {'ours':>7} {'theirs':>7} {'ratio':>7}  95% interval")
        for metric in list(ours) + [m for m in theirs if m not in ours]:
            mine, other = ours.get(metric, []), theirs.get(metric, [])
            ratio = interval = ""
            if mine and other:
                ratio = f"{statistics.median(mine) / statistics.median(other):.2f}x"
                interval = "{:.2f}-{:.2f}x".format(*ratio_interval(mine, other, draws))
            print(
                f"  {metric.removesuffix(' MiB/s'):34} {len(mine) or len(other):>4} "
                f"{_median(mine):>7} {_median(other):>7} {ratio or 'n/a':>7}  {interval}"
            )


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="storage_bench.py --json outputs")
    parser.add_argument("--draws", type=int, default=10_000, help="bootstrap resamples")
    args = parser.parse_args()
    report(pool(args.files), args.draws)


if __name__ == "__main__":
    main()
