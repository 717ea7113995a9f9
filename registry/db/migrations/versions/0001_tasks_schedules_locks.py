"""Tasks, schedules and named locks."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("celery_id", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("schedule_id", sa.String(36), nullable=True),
        sa.Column("retry_of", sa.String(36), nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("sent_at"),
        _when("started_at"),
        _when("finished_at"),
        _when("heartbeat_at"),
        _when("retry_at"),
        _when("scheduled_for"),
    )
    op.create_index("ix_tasks_kind", "tasks", ["kind"])
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_index("ix_tasks_schedule_id", "tasks", ["schedule_id"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("next_run_at"),
        _when("last_run_at"),
        sa.Column("last_task_id", sa.String(36), nullable=True),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        _when("expires_at", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_table("schedules")
    op.drop_index("ix_tasks_schedule_id", table_name="tasks")
    op.drop_index("ix_tasks_state", table_name="tasks")
    op.drop_index("ix_tasks_kind", table_name="tasks")
    op.drop_table("tasks")
