"""Tag protection rules in the shared database (migration 0011_tag_protection): create,
list, read, delete, and load them all as one `TagProtection` for pushes and retention.

`tag_protection_claims` holds one row per protected tag a push linked: the row a push of that
tag locks while it checks and links (registry/cluster/tag_guard.py), and a record of the
digest it was given.
"""

from __future__ import annotations

from datetime import datetime

from registry.content.tag_protection import InvalidRule, TagProtection, compile_rule
from registry.db.database import Database
from registry.db.rows import Field, Row, col, select
from registry.db.session import Session, get_row, insert_row
from registry.errors import RegistryError
from registry.tasks.models import utc_time, utcnow


class TagProtectionRow(Row, table=True):
    __tablename__ = "tag_protection_rules"

    name: str = Field(primary_key=True, max_length=64)
    repositories: str = Field(max_length=255)
    tags: str = Field(max_length=1024)
    created_by: str = Field(max_length=128)
    created_at: datetime = utc_time()


class TagClaimRow(Row, table=True):
    __tablename__ = "tag_protection_claims"

    repository: str = Field(primary_key=True, max_length=255)
    tag: str = Field(primary_key=True, max_length=128)
    digest: str = Field(max_length=255)
    linked_at: datetime = utc_time()


class RuleNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "tag protection rule not found"


def _not_found(name: str) -> RuleNotFound:
    return RuleNotFound(f"tag protection rule {name!r} not found")


class RuleExists(RegistryError):
    code, status, default_message = "CONFLICT", 409, "a tag protection rule of that name exists"


class RuleInvalid(RegistryError):
    code, status, default_message = "INVALID_RULE", 422, "invalid tag protection rule"


def create_rule(
    db: Database, name: str, repositories: str, tags: str, created_by: str
) -> TagProtectionRow:
    """Store a new rule (RuleInvalid when it does not compile, RuleExists for a taken name)."""
    try:
        compile_rule(name, repositories, tags)
    except InvalidRule as exc:
        raise RuleInvalid(str(exc)) from None
    row = TagProtectionRow(
        name=name,
        repositories=repositories,
        tags=tags,
        created_by=created_by[:128],
        created_at=utcnow(),
    )
    return insert_row(db, row, RuleExists(f"tag protection rule {name!r} exists"))


def list_rules(db: Database) -> list[TagProtectionRow]:
    """Every rule by name (a registry has a handful; no paging needed)."""
    with Session(db.engine, expire_on_commit=False) as session:
        return list(session.exec(select(TagProtectionRow).order_by(col(TagProtectionRow.name))))


def get_rule(db: Database, name: str) -> TagProtectionRow:
    return get_row(db, TagProtectionRow, name, _not_found(name))


def delete_rule(db: Database, name: str) -> TagProtectionRow:
    """Remove the rule; its tags are ordinary tags again (once caches expire)."""
    with Session(db.engine, expire_on_commit=False) as session:
        row = session.require(TagProtectionRow, name, _not_found(name))
        session.delete(row)
        session.commit()
    return row


def load_tag_protection(db: Database) -> TagProtection:
    """Every stored rule, compiled: `load_tag_protection(db).protects` is the
    `protected(repository, tag)` callable retention takes."""
    rules = [compile_rule(row.name, row.repositories, row.tags) for row in list_rules(db)]
    return TagProtection(tuple(rules))
