"""The newest migration revisions, read from the files in `migrations/versions/` without
Alembic, so a process whose database is already current never imports Alembic (~12 MiB)."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"


def _assigned(path: Path) -> dict[str, object]:
    """The module-level `revision` and `down_revision` literals of one migration file."""
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(node.value)
    return values


def head_revisions(versions: Path = VERSIONS) -> frozenset[str] | None:
    """The revisions no other revision follows; None when a file cannot be read that way
    (then the caller lets Alembic decide)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in versions.glob("*.py"):
            values = _assigned(path)
            revision, down = values.get("revision"), values.get("down_revision")
            if not isinstance(revision, str):
                return None
            revisions.add(revision)
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, tuple | list):  # a merge revision
                parents.update(str(item) for item in down)
            elif down is not None:
                return None
    except (OSError, SyntaxError, ValueError):
        return None
    heads = frozenset(revisions - parents)
    return heads or None


def is_current(engine: Engine) -> bool:
    """Is the database stamped with exactly the newest revisions? False when unsure."""
    heads = head_revisions()
    if heads is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no table yet: a new database
        return False
    return frozenset(str(row[0]) for row in rows) == heads
