"""Failed-login limiting, shared through the database by every process and instance.

Two rules over the failures of the last `window` seconds (docs/auth.md, "Failed logins"):
- a name with `attempts` failures (from any addresses) is refused to every address that
  failed it in the window; an address that has not failed it may still try;
- an address with `attempts * ADDRESS_FACTOR` failures (for any names) is refused.
A refused attempt is answered 429 before the password is checked, right or wrong. An IPv6
address counts as its /64: one host usually holds a whole /64 and could rotate through it.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete, insert, literal, select, union_all

from registry.auth.models import LoginFailureRow
from registry.db.database import Database
from registry.db.rows import col

# One address may fail this many times more than one name may: spraying many names from one
# address is limited too, without a sprayer locking a user out of the user's own address.
ADDRESS_FACTOR = 4
MAX_ADDRESS, MAX_USERNAME = 64, 128
IPV6_PREFIX = 64
T = TypeVar("T")


class LoginLocked(Exception):
    """Too many failures: this attempt is not checked."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verdict:
    retry_after: int | None  # seconds to wait, or None: this attempt may be checked
    failed_before: bool  # this address failed this name within the window


class LoginLimiter:
    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._next_prune = 0.0
        self._lock = threading.Lock()

    @property
    def address_limit(self) -> int:
        return self.attempts * ADDRESS_FACTOR

    def attempt(
        self, db: Database, address: str, name: str, verify: Callable[[Database], T | None]
    ) -> T | None:
        """`verify(db)` unless the limit is reached (LoginLocked); its None is a failure."""
        verdict = self.check(db, address, name)
        if verdict.retry_after is not None:
            raise LoginLocked(verdict.retry_after)
        result = verify(db)
        if result is None:
            self.failed(db, address, name)
        else:
            self.succeeded(db, address, name, verdict)
        return result

    def check(self, db: Database, address: str, name: str) -> Verdict:
        """One query: the newest failures for the name and from the address."""
        address, name = _key(address, name)
        now = self._clock()
        for_name, from_address = self._recent(db, address, name, now - self.window)
        mine = [at for at, username in from_address if username == name]
        expiries = []
        if len(from_address) >= self.address_limit:
            expiries.append(from_address[self.address_limit - 1][0] + self.window)
        if len(for_name) >= self.attempts and mine:
            # Lifted when the name falls below the limit or this address's failures age out.
            expiries.append(min(for_name[self.attempts - 1], max(mine)) + self.window)
        wait = max(expiries, default=now) - now
        return Verdict(max(1, math.ceil(wait)) if wait > 0 else None, bool(mine))

    def _recent(
        self, db: Database, address: str, name: str, since: float
    ) -> tuple[list[float], list[tuple[float, str]]]:
        at, username = col(LoginFailureRow.at), col(LoginFailureRow.username)
        by_name = (
            select(literal("n").label("side"), at, username)
            .where(username == name, at > since)
            .order_by(at.desc())
            .limit(self.attempts)
            .subquery()
        )
        by_address = (
            select(literal("a").label("side"), at, username)
            .where(col(LoginFailureRow.address) == address, at > since)
            .order_by(at.desc())
            .limit(self.address_limit)
            .subquery()
        )
        query = union_all(select(by_name), select(by_address))
        with db.engine.connect() as connection:
            rows = connection.execute(query).all()
        for_name = sorted((row[1] for row in rows if row[0] == "n"), reverse=True)
        from_address = sorted(((row[1], row[2]) for row in rows if row[0] == "a"), reverse=True)
        return for_name, from_address

    def failed(self, db: Database, address: str, name: str) -> None:
        address, name = _key(address, name)
        now = self._clock()
        with db.engine.begin() as connection:
            connection.execute(
                insert(LoginFailureRow).values(at=now, address=address, username=name)
            )
        self._prune(db, now)

    def succeeded(self, db: Database, address: str, name: str, verdict: Verdict) -> None:
        """Forget this address's failures for the name (a write only when there are some)."""
        if not verdict.failed_before:
            return
        address, name = _key(address, name)
        with db.engine.begin() as connection:
            connection.execute(
                delete(LoginFailureRow).where(
                    col(LoginFailureRow.address) == address,
                    col(LoginFailureRow.username) == name,
                )
            )

    def _prune(self, db: Database, now: float) -> None:
        """Failures older than the window, at most once per window from this process."""
        with self._lock:
            if now < self._next_prune:
                return
            self._next_prune = now + self.window
        with db.engine.begin() as connection:
            connection.execute(
                delete(LoginFailureRow).where(col(LoginFailureRow.at) <= now - self.window)
            )


def _key(address: str, name: str) -> tuple[str, str]:
    return counted_address(address)[:MAX_ADDRESS], name[:MAX_USERNAME]


def counted_address(address: str) -> str:
    """What failures are counted under: an IPv4 address, or an IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (e.g. "unknown"): counted as it is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)
