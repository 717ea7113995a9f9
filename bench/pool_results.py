"""Pools the samples of several `storage_bench.py --json` runs: per driver and metric, the
median of every sample of ours and of Distribution's, and the ratio of the two round by round
with a bootstrap 95% interval, which says whether the runs can tell the registries apart.

    .venv/bin/python bench/pool_results.py run1.json run2.json

The ratio is paired by round: both registries' samples of one round share that round's blobs
and machine load, and on the emulators a round's blob can read 10% faster or slower than the
next round's. So each round gives one ratio (of its two medians), the rounds' geometric mean
is the figure, and the interval draws rounds again, then samples within them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

Rounds = list[list[float]]  # one list of samples per round
Samples = dict[str, dict[str, dict[str, Rounds]]]  # driver -> registry -> metric -> rounds


def pool(files: list[Path]) -> Samples:
    """Every file's rounds, one after the other (a flat list of samples counts as one round)."""
    pooled: Samples = {}
    for path in files:
        for driver, registries in json.loads(path.read_text()).items():
            for registry, metrics in registries.items():
                for metric, values in metrics.items():
                    into = pooled.setdefault(driver, {}).setdefault(registry, {})
                    into.setdefault(metric, []).extend(_as_rounds(values))
    return pooled


def _as_rounds(values: list[Any]) -> Rounds:
    if values and not isinstance(values[0], list):
        return [values]  # a file written before rounds were kept
    return values


def paired_ratio(ours: Rounds, theirs: Rounds) -> float:
    """The geometric mean, over the rounds both sides have samples in, of ours' median in that
    round over theirs'."""
    logs = [
        math.log(statistics.median(mine) / statistics.median(other))
        for mine, other in zip(ours, theirs, strict=False)
        if mine and other
    ]
    return math.exp(statistics.fmean(logs))


def ratio_interval(ours: Rounds, theirs: Rounds, draws: int) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the paired ratio over `draws` resamplings: the
    rounds drawn again with replacement, then each side's samples within each drawn round."""
    rng = random.Random(0)  # the same files give the same interval
    rounds = [(mine, other) for mine, other in zip(ours, theirs, strict=False) if mine and other]
    ratios = []
    for _ in range(draws):
        drawn = rng.choices(rounds, k=len(rounds))
        mine = [rng.choices(samples, k=len(samples)) for samples, _ in drawn]
        other = [rng.choices(samples, k=len(samples)) for _, samples in drawn]
        ratios.append(paired_ratio(mine, other))
    ratios.sort()
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def report(pooled: Samples, draws: int = 10_000) -> None:
    """Per driver and metric: rounds and samples, medians, the paired ratio and its interval."""
    for driver, registries in pooled.items():
        ours, theirs = registries.get("ours", {}), registries.get("Distribution", {})
        print(f"\n{driver} (median of every sample; ratio: geometric mean of the rounds' ratios)")
        header = f"  {'metric':34} {'rounds':>6} {'n':>4} {'ours':>7} {'theirs':>7} {'ratio':>7}"
        print(f"{header}  95% interval")
        for metric in list(ours) + [m for m in theirs if m not in ours]:
            mine, other = ours.get(metric, []), theirs.get(metric, [])
            ratio = interval = ""
            if any(mine) and any(other):
                ratio = f"{paired_ratio(mine, other):.2f}x"
                interval = "{:.2f}-{:.2f}x".format(*ratio_interval(mine, other, draws))
            rounds = mine or other
            print(
                f"  {metric.removesuffix(' MiB/s'):34} {len(rounds):>6} "
                f"{sum(map(len, rounds)):>4} {_median(mine):>7} {_median(other):>7} "
                f"{ratio or 'n/a':>7}  {interval}"
            )


def _median(rounds: Rounds) -> str:
    samples = [value for samples in rounds for value in samples]
    return f"{statistics.median(samples):.0f}" if samples else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="storage_bench.py --json outputs")
    parser.add_argument("--draws", type=int, default=10_000, help="bootstrap resamples")
    args = parser.parse_args()
    report(pool(args.files), args.draws)


if __name__ == "__main__":
    main()
