"""registry/db/rows.py: a field set (a Row subclass without a table) shared by two tables."""

from __future__ import annotations

from registry.cluster.models import Heartbeat, InstanceProcessRow, InstanceRow


def test_each_table_gets_its_own_columns_of_a_shared_field_set() -> None:
    shared = list(Heartbeat.__annotations__)
    for table in (InstanceRow.__table__, InstanceProcessRow.__table__):
        assert [c.name for c in table.columns if c.name in shared] == shared
    instance, process = InstanceRow.__table__.c, InstanceProcessRow.__table__.c
    assert instance.started_at is not process.started_at
    assert instance.started_at.table is InstanceRow.__table__
    assert not instance.state.nullable and instance.detail.type.length == 1024
    # Own fields first: the keys of a process row lead, as in its migration.
    assert [c.name for c in InstanceProcessRow.__table__.columns][:2] == ["instance_id", "pid"]
