"""Configuration generations: every applied hth.json document, numbered, in the database.

Generation 0 means "none recorded": every process runs on its own file. Instances apply the
newest generation; a rollback records a new generation holding an older document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from registry.config import Settings, parse_settings
from registry.tasks.db import Database
from registry.tasks.models import UTCDateTime, utcnow

# An instance that cannot apply a generation says so in its heartbeat detail with this prefix.
APPLY_ERROR = "config generation {number} failed: "


class ConfigGenerationRow(SQLModel, table=True):
    __tablename__ = "config_generations"

    number: int = Field(primary_key=True)
    document: str = Field(sa_column=Column(Text(), nullable=False))  # the validated hth.json
    source: str = Field(default="", max_length=1024)  # file it came from, or "rollback of N"
    task_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class GenerationConflict(Exception):
    """Another generation was recorded meanwhile (two reconfigures at once)."""


@dataclass(frozen=True)
class Generation:
    number: int
    document: dict[str, Any]
    source: str
    created_at: datetime

    def settings(self) -> Settings:
        return parse_settings(self.document, source=f"config generation {self.number}")


def _to_generation(row: ConfigGenerationRow) -> Generation:
    return Generation(row.number, json.loads(row.document), row.source, row.created_at)


def current(db: Database) -> Generation | None:
    """The newest generation, or None when none was ever recorded."""
    with Session(db.engine) as session:
        stmt = select(ConfigGenerationRow).order_by(col(ConfigGenerationRow.number).desc())
        row = session.exec(stmt.limit(1)).first()
        return _to_generation(row) if row else None


def current_number(db: Database) -> int:
    found = current(db)
    return found.number if found else 0


def get(db: Database, number: int) -> Generation | None:
    with Session(db.engine) as session:
        row = session.get(ConfigGenerationRow, number)
        return _to_generation(row) if row else None


def previous(db: Database) -> Generation | None:
    """The generation before the newest: what a rollback returns to."""
    now = current_number(db)
    return get(db, now - 1) if now > 1 else None


def record(
    db: Database, document: dict[str, Any], source: str, expected: int, task_id: str | None = None
) -> Generation:
    """Record generation `expected + 1`; fails if the newest is no longer `expected`."""
    parse_settings(document)  # never record a document that does not validate
    row = ConfigGenerationRow(
        number=expected + 1,
        document=json.dumps(document, sort_keys=True),
        source=source[:1024],
        task_id=task_id,
        created_at=utcnow(),
    )
    with Session(db.engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            raise GenerationConflict(f"config generation {expected + 1} already exists") from None
        session.refresh(row)
        return _to_generation(row)


def apply_error(number: int, detail: str) -> str | None:
    """The error an instance reported for generation `number` in its detail, if any."""
    marker = APPLY_ERROR.format(number=number)
    _, found, error = detail.partition(marker)
    return error if found else None
