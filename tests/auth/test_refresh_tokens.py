"""The bound on refresh tokens, on a real database (SQLite and PostgreSQL): per user and
client the newest N stay live, per user at most N x clients; dead rows do not pile up, and
logins racing each other leave exactly N."""

from __future__ import annotations

import threading
import uuid

from registry.auth.models import TokenRow, UserRow
from registry.auth.tokens import bound_refresh_tokens, create_token, is_live, list_tokens
from registry.auth.users import NewUser, create_user
from registry.db.database import Database


def _user(db: Database) -> UserRow:
    return create_user(db, NewUser(username=f"r{uuid.uuid4().hex[:8]}", robot=True))


def _refresh(db: Database, user: UserRow, client_id: str) -> str:
    return create_token(db, user, "docker login", "refresh", client_id=client_id).row.id


def _live(db: Database, user: UserRow) -> list[TokenRow]:
    return [row for row in list_tokens(db, user.id, "refresh") if is_live(row)]


def test_the_newest_n_of_a_client_stay_live_and_the_oldest_are_revoked(db: Database) -> None:
    user = _user(db)
    issued = [_refresh(db, user, "docker") for _ in range(5)]
    other = _refresh(db, user, "podman")

    revoked = bound_refresh_tokens(db, user.id, "docker", per_client=3, per_user=30)

    assert sorted(revoked) == sorted(issued[:2])
    assert {row.id for row in _live(db, user)} == {*issued[2:], other}


def test_inventing_client_ids_is_bounded_per_user(db: Database) -> None:
    user = _user(db)
    issued = [_refresh(db, user, f"client-{n}") for n in range(6)]

    revoked = bound_refresh_tokens(db, user.id, "client-5", per_client=1, per_user=4)

    assert sorted(revoked) == sorted(issued[:2])
    assert len(_live(db, user)) == 4


def test_dead_refresh_tokens_beyond_the_user_bound_are_deleted(db: Database) -> None:
    user = _user(db)
    for _ in range(12):
        _refresh(db, user, "docker")
        bound_refresh_tokens(db, user.id, "docker", per_client=2, per_user=4)

    rows = list_tokens(db, user.id, "refresh")
    assert len([row for row in rows if is_live(row)]) == 2
    assert len([row for row in rows if not is_live(row)]) == 4


def test_logins_racing_each_other_leave_exactly_n_live(db: Database) -> None:
    user = _user(db)
    start = threading.Barrier(8)

    def login() -> None:
        start.wait()
        for _ in range(3):
            _refresh(db, user, "docker")
            bound_refresh_tokens(db, user.id, "docker", per_client=5, per_user=50)

    threads = [threading.Thread(target=login) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(_live(db, user)) == 5
