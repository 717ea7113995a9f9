"""Fuzzing: bounded, derandomized hypothesis and schemathesis runs; totals in the summary."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.counting import CASES

# Derandomized so that CI runs are repeatable; raise max_examples locally to dig deeper.
settings.register_profile(
    "fuzz",
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        families = ", ".join(f"{name} {n}" for name, n in sorted(CASES.items()))
        terminalreporter.write_line(f"fuzz cases run: {sum(CASES.values())} ({families})")
