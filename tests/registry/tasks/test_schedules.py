"""Schedule records: cron validation, guarded advancing, edits, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.db.database import Database
from registry.tasks.errors import InvalidCron, InvalidParams, ScheduleNotFound, UnknownTaskKind
from registry.tasks.schedules import (
    ScheduleSpec,
    advance,
    check_cron,
    create_schedule,
    delete_schedule,
    get_schedule,
    next_fire,
    update_schedule,
)

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_cron_takes_five_fields_and_six_only_when_seconds_are_allowed() -> None:
    assert check_cron(" 0  3 * * * ") == "0 3 * * *"
    with pytest.raises(InvalidCron, match="5 fields"):
        check_cron("* * * * * *")
    assert check_cron("* * * * * */2", allow_seconds=True) == "* * * * * */2"
    with pytest.raises(InvalidCron, match="not a valid"):
        check_cron("0 25 * * *")


def test_next_fire_is_strictly_after_and_in_utc() -> None:
    assert next_fire("0 3 * * *", NOON) == datetime(2025, 3, 2, 3, 0, tzinfo=UTC)
    assert next_fire("0 12 * * *", NOON) == datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    assert next_fire("* * * * * */2", NOON) == datetime(2025, 3, 1, 12, 0, 2, tzinfo=UTC)


def test_kind_and_params_are_validated(db: Database) -> None:
    with pytest.raises(UnknownTaskKind):
        create_schedule(db, ScheduleSpec("defrag", {}, "0 3 * * *"))
    with pytest.raises(InvalidParams, match="params.age"):
        create_schedule(db, ScheduleSpec("purge_uploads", {"age": "x"}, "0 3 * * *"))


def test_only_one_of_two_beats_with_the_same_view_advances(db: Database) -> None:
    created = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    assert advance(db, created, NOON, fired=False)
    planned = get_schedule(db, created.id)
    assert advance(db, planned, next_fire(planned.cron, NOON), fired=True)
    assert not advance(db, planned, next_fire(planned.cron, NOON), fired=True)
    after = get_schedule(db, created.id)
    assert after.last_run_at == NOON


def test_an_edit_wins_over_a_beat_holding_an_older_view(db: Database) -> None:
    created = create_schedule(db, ScheduleSpec("noop", {}, "* * * * *"))
    advance(db, created, NOON, fired=False)
    seen = get_schedule(db, created.id)
    update_schedule(db, created.id, ScheduleSpec("noop", {"steps": 2}, "0 * * * *"))
    assert not advance(db, seen, NOON, fired=True)
    edited = get_schedule(db, created.id)
    assert (edited.cron, edited.params, edited.next_run_at) == ("0 * * * *", {"steps": 2}, None)


def test_unknown_schedules_are_not_found(db: Database) -> None:
    with pytest.raises(ScheduleNotFound):
        get_schedule(db, "nope")
    with pytest.raises(ScheduleNotFound):
        delete_schedule(db, "nope")
    with pytest.raises(ScheduleNotFound):
        update_schedule(db, "nope", ScheduleSpec("noop", {}, "* * * * *"))
