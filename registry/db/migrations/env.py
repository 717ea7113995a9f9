"""Alembic environment: runs on the connection `registry.db.database.upgrade` hands over, or
on the configured database when started by the `alembic` command (see alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import registry.audit  # noqa: F401 - registers the tables on registry.db.rows.metadata
import registry.auth.models  # noqa: F401
import registry.cluster.generations  # noqa: F401
import registry.cluster.models  # noqa: F401
import registry.tasks.models  # noqa: F401
import registry.tasks.retention  # noqa: F401
import registry.tasks.tag_protections  # noqa: F401
import registry.tasks.usage  # noqa: F401
from registry.db.rows import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone() -> None:
    from registry.config import load_settings
    from registry.db.database import create_db_engine, database_url

    engine = create_db_engine(database_url(load_settings()))
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    _run_standalone()
