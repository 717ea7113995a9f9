"""Configuration generations: every applied hth.json document, numbered, in the database.

Generation 0 means "none recorded": every process runs on its own file. Instances apply the
newest generation; a rollback records a new generation holding an older document. Secret
values are stored encrypted (registry/cluster/secrets.py) and decrypted by whoever applies
the generation, with its own keys, so that a wrong key is reported as a failure to apply.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Column, Text, update

from registry.cluster.secrets import (
    Keyring,
    SecretsError,
    needs_sealing,
    seal_document,
    unseal_document,
)
from registry.config import Settings, parse_settings
from registry.db.database import Database
from registry.db.rows import Field, Row, col, select
from registry.db.session import Session, insert_row
from registry.tasks.models import utc_time, utcnow

log = logging.getLogger("hth.cluster")

# An instance that cannot apply a generation says so in its heartbeat detail with this prefix.
APPLY_ERROR = "config generation {number} failed: "


class ConfigGenerationRow(Row, table=True):
    __tablename__ = "config_generations"

    number: int = Field(primary_key=True)
    document: str = Field(sa_column=Column(Text(), nullable=False))  # the validated hth.json
    source: str = Field(default="", max_length=1024)  # file it came from, or "rollback of N"
    task_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = utc_time()


class GenerationConflict(Exception):
    """Another generation was recorded meanwhile (two reconfigures at once)."""


@dataclass(frozen=True)
class Generation:
    number: int
    sealed: dict[str, Any]  # as stored: secret values encrypted
    source: str
    created_at: datetime
    keyring: Keyring | None = field(default=None, repr=False, compare=False)

    @cached_property
    def document(self) -> dict[str, Any]:
        """The document with its secrets decrypted; SecretsError names the key that fails."""
        return unseal_document(self.sealed, self.keyring, f"config generation {self.number}")

    def settings(self) -> Settings:
        return parse_settings(self.document, source=f"config generation {self.number}")


def _to_generation(row: ConfigGenerationRow, keyring: Keyring | None) -> Generation:
    return Generation(row.number, json.loads(row.document), row.source, row.created_at, keyring)


def current(db: Database, keyring: Keyring | None) -> Generation | None:
    """The newest generation, or None when none was ever recorded."""
    with Session(db.engine) as session:
        stmt = select(ConfigGenerationRow).order_by(col(ConfigGenerationRow.number).desc())
        row = session.exec(stmt.limit(1)).first()
        return _to_generation(row, keyring) if row else None


def current_number(db: Database) -> int:
    found = current(db, None)
    return found.number if found else 0


def get(db: Database, number: int, keyring: Keyring | None) -> Generation | None:
    with Session(db.engine) as session:
        row = session.get(ConfigGenerationRow, number)
        return _to_generation(row, keyring) if row else None


def previous(db: Database, keyring: Keyring | None) -> Generation | None:
    """The generation before the newest: what a rollback returns to."""
    now = current_number(db)
    return get(db, now - 1, keyring) if now > 1 else None


def record(
    db: Database,
    document: dict[str, Any],
    source: str,
    expected: int,
    task_id: str | None = None,
    *,
    keyring: Keyring | None,
) -> Generation:
    """Record generation `expected + 1`, its secrets sealed; fails if the newest is no longer
    `expected`, or (SecretsError) if it holds a secret and there is no key to seal it with."""
    parse_settings(document)  # never record a document that does not validate
    number = expected + 1
    row = ConfigGenerationRow(
        number=number,
        document=_dumps(seal_document(document, keyring, f"config generation {number}")),
        source=source[:1024],
        task_id=task_id,
        created_at=utcnow(),
    )
    conflict = GenerationConflict(f"config generation {number} already exists")
    recorded = _to_generation(insert_row(db, row, conflict), keyring)
    if keyring is not None:  # the first write also seals rows written before encryption
        reseal(db, keyring)
    return recorded


@dataclass
class Resealed:
    """What `reseal` did: generation numbers re-encrypted, and those it could not decrypt."""

    total: int = 0
    resealed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def reseal(db: Database, keyring: Keyring) -> Resealed:
    """Encrypt with the first key every generation holding a secret in clear or under another
    key (rotation). Each row is replaced only if unchanged since it was read."""
    report = Resealed()
    with Session(db.engine) as session:
        rows = session.exec(select(ConfigGenerationRow.number, ConfigGenerationRow.document))
        stored = list(rows.all())
    for number, text in stored:
        report.total += 1
        document = json.loads(text)
        if not needs_sealing(document, keyring):
            continue
        where = f"config generation {number}"
        try:
            fresh = seal_document(unseal_document(document, keyring, where), keyring, where)
        except SecretsError as exc:
            report.failed[number] = str(exc)
            log.warning("cannot re-encrypt %s: %s", where, exc)
            continue
        guarded = (
            update(ConfigGenerationRow)
            .where(col(ConfigGenerationRow.number) == number)
            .where(col(ConfigGenerationRow.document) == text)
            .values(document=_dumps(fresh))
        )
        with db.engine.begin() as connection:
            if connection.execute(guarded).rowcount == 1:
                report.resealed.append(number)
    return report


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def apply_error(number: int, detail: str) -> str | None:
    """The error an instance reported for generation `number` in its detail, if any."""
    marker = APPLY_ERROR.format(number=number)
    _, found, error = detail.partition(marker)
    return error if found else None
