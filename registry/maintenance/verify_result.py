"""The scrub's result: counts, every mismatch, and the outcome in one word."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.maintenance.verify_report import Mismatch

NOT_CHECKED_LISTED = 100  # odd files named in the result; the count says how many in all


@dataclass
class VerifyResult:
    repair: bool
    since: datetime | None
    rate_limit: float | None  # MB/s
    blobs_checked: int = 0
    bytes_read: int = 0  # everything read, re-checks during quarantine included
    blobs_older: int = 0  # left out by `since`
    blobs_vanished: int = 0  # deleted (GC) between the listing and their turn
    not_checked: list[str] = field(default_factory=list)  # files naming no checkable blob
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(1 for m in self.mismatches if m.state == state)

    @property
    def outcome(self) -> str:
        """clean: nothing bad; repaired: all bad data quarantined (or genuine again);
        corrupt: bad data is still served as the blob (the task fails)."""
        if not self.mismatches:
            return "clean"
        return "corrupt" if self.count("corrupt") else "repaired"

    def summary(self) -> str:
        line = (
            f"verify_storage: {self.outcome}: {self.blobs_checked} blobs checked, "
            f"{self.bytes_read} bytes read in {self.seconds:.1f}s; {len(self.mismatches)} bad"
        )
        if self.mismatches:
            states = ("quarantined", "healed", "vanished", "corrupt")
            line += " (" + ", ".join(f"{self.count(s)} {s}" for s in states) + ")"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "repair": self.repair,
            "since": self.since.isoformat() if self.since else None,
            "rate_limit": self.rate_limit,
            "blobs_checked": self.blobs_checked,
            "bytes_read": self.bytes_read,
            "blobs_older": self.blobs_older,
            "blobs_vanished": self.blobs_vanished,
            "bad": len(self.mismatches),
            "quarantined": self.count("quarantined"),
            "healed": self.count("healed"),
            "corrupt_left": self.count("corrupt"),
            "not_checked": len(self.not_checked),
            "not_checked_paths": self.not_checked[:NOT_CHECKED_LISTED],
            "mismatches": [m.as_dict() for m in self.mismatches],
            "seconds": self.seconds,
        }
