"""The TagGuard of a registry process: tag protection rules cached from the shared database,
and pushes of one protected tag serialized across processes and instances by a row lock.

Rules are re-read at most every RULES_TTL_SECONDS, on the first push after that, so a push
costs no query in between and a rule change reaches every process within that time (at once
in the process that made it). A push to a protected tag locks that tag's row in
`tag_protection_claims` (an upsert: PostgreSQL locks the row, SQLite the database) for as
long as it checks the tag's current digest and links it, so of two pushes racing to create
the tag exactly one links and the other then finds the tag taken. Any database failure
refuses the push with 503 UNAVAILABLE rather than letting it through unchecked.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from registry.content.tag_protection import TagProtection
from registry.db.database import Database, insert_on_conflict
from registry.errors import Unavailable
from registry.tasks.models import utcnow
from registry.tasks.tag_protections import TagClaimRow, load_tag_protection

log = logging.getLogger("hth.protection")

RULES_TTL_SECONDS = 5.0


class DatabaseTagGuard:
    """TagGuard (registry.content.tag_protection) over the shared database."""

    def __init__(
        self,
        db: Callable[[], Database],
        ttl: float = RULES_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: TagProtection | None = None
        self._loaded_at = -math.inf

    def protection(self) -> TagProtection:
        rules = self._rules
        if rules is not None and self._clock() - self._loaded_at < self._ttl:
            return rules
        with self._lock:  # one reload at a time; threads arriving meanwhile share it
            if self._rules is not None and self._clock() - self._loaded_at < self._ttl:
                return self._rules
            return self._reload()

    def _reload(self) -> TagProtection:
        now = self._clock()
        try:
            rules = load_tag_protection(self._db())
        except SQLAlchemyError as exc:
            if self._rules is None:
                raise Unavailable("the registry database is unavailable") from exc
            # Rules known a moment ago are better than none: keep them for another period.
            log.warning("cannot reload tag protection rules, keeping the last ones: %s", exc)
            rules = self._rules
        self._rules, self._loaded_at = rules, now
        return rules

    def invalidate(self) -> None:
        """Re-read the rules on the next push (this process changed them)."""
        self._loaded_at = -math.inf

    @contextmanager
    def serialized(self, repository: str, tag: str, digest: str) -> Iterator[None]:
        try:
            db = self._db()
            with db.engine.begin() as connection:
                connection.execute(_claim(db, repository, tag, digest))
                yield  # the row stays locked until this transaction ends
        except SQLAlchemyError as exc:
            raise Unavailable("the registry database is unavailable") from exc


def _claim(db: Database, repository: str, tag: str, digest: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of the tag's row: it waits for, then holds, the lock."""
    now = utcnow()
    values = {"repository": repository, "tag": tag, "digest": digest, "linked_at": now}
    dialect = db.engine.dialect.name
    statement = insert_on_conflict(TagClaimRow.__table__, dialect).values(**values)
    return statement.on_conflict_do_update(
        index_elements=["repository", "tag"], set_={"digest": digest, "linked_at": now}
    )
