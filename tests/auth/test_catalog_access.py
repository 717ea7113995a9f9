"""/v2/_catalog with auth on, in process: a non-admin sees exactly the repositories they may
pull now (their grants, the public ones, within their token's limits), pages stay full
across hidden names and never link past the last visible one; admins see everything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.auth.rights import Grant, PullFilter
from registry.content import catalog
from tests.support.auth import ADMIN, bearer
from tests.support.auth_app import AuthApp

# In catalog order (component-wise: "team/b" before "team-y"); `team` covers the first
# five team names, not "team-y" or "teamx/z".
REPOSITORIES = [
    "alpha/x", "library/base", "team", "team/a", "team/a/b", "team/b", "team-y", "teamx/z",
    "zoo/q",
]  # fmt: skip
# What `alice` (pull on team, and library public) may pull.
ALICE_SEES = ["library/base", "team", "team/a", "team/a/b", "team/b"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthApp]:
    with AuthApp(tmp_path_factory.mktemp("catalog-access")) as auth_app:
        auth_app.push(*REPOSITORIES)
        auth_app.grant("anonymous", "library", ["pull"])
        auth_app.create_user("alice", {"team": ["pull"]})
        auth_app.create_user("pusher", {"team": ["push"]})  # push without pull: sees nothing
        yield auth_app


def _walk(app: AuthApp, n: int, **headers: str) -> list[list[str]]:
    """Every page, following the Link headers; asserts each link names a shown repository."""
    pages: list[list[str]] = []
    url: str | None = f"/v2/_catalog?n={n}"
    while url:
        response = app.http.get(url, headers=headers, auth=None)
        assert response.status_code == 200, response.text
        pages.append(response.json()["repositories"])
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    return pages


def test_a_user_lists_exactly_the_repositories_they_may_pull(app: AuthApp) -> None:
    by_password = app.http.get("/v2/_catalog", auth=("alice", "alice-password"))
    token = app.registry_token(("alice", "alice-password"), "registry:catalog:*")
    by_token = app.http.get("/v2/_catalog", headers=bearer(token))

    assert by_password.json() == {"repositories": ALICE_SEES}
    assert by_token.json() == {"repositories": ALICE_SEES}
    assert "Link" not in by_token.headers


def test_pages_are_full_across_hidden_repositories_and_end_at_the_last_visible(
    app: AuthApp,
) -> None:
    token = app.registry_token(("alice", "alice-password"), "registry:catalog:*")

    pages = _walk(app, 2, **bearer(token))
    last_page = app.http.get("/v2/_catalog?n=5", headers=bearer(token))

    assert pages == [["library/base", "team"], ["team/a", "team/a/b"], ["team/b"]]
    # Five visible, then only hidden names: a full page and no link to an empty one.
    assert last_page.json()["repositories"] == ALICE_SEES
    assert "Link" not in last_page.headers


def test_last_may_name_a_hidden_repository_without_revealing_anything(app: AuthApp) -> None:
    response = app.http.get("/v2/_catalog?last=alpha/x", auth=("alice", "alice-password"))
    assert response.json()["repositories"] == ALICE_SEES


def test_push_without_pull_shows_nothing(app: AuthApp) -> None:
    response = app.http.get("/v2/_catalog", auth=("pusher", "pusher-password"))
    assert response.status_code == 200
    assert response.json() == {"repositories": ["library/base"]}  # only the public one


def test_a_limited_token_lists_within_its_limits(app: AuthApp) -> None:
    limited = app.my_token(
        ("alice", "alice-password"), permissions=[{"namespace": "team/a", "actions": ["pull"]}]
    )
    jwt = app.registry_token(("alice", limited["token"]), "registry:catalog:*")

    by_basic = app.http.get("/v2/_catalog", auth=("alice", limited["token"]))
    by_jwt = app.http.get("/v2/_catalog", headers=bearer(jwt))

    assert by_basic.json()["repositories"] == ["team/a", "team/a/b"]
    assert by_jwt.json()["repositories"] == ["team/a", "team/a/b"]


def test_a_granted_namespace_shows_at_the_next_request(app: AuthApp) -> None:
    user = app.create_user("carol", {"zoo": ["pull"]})
    token = app.registry_token(user, "registry:catalog:*")
    before = app.http.get("/v2/_catalog", headers=bearer(token)).json()["repositories"]

    app.grant("carol", "alpha", ["pull"])
    after = app.http.get("/v2/_catalog", headers=bearer(token)).json()["repositories"]

    assert before == ["library/base", "zoo/q"]
    assert after == ["alpha/x", "library/base", "zoo/q"]


def test_an_admin_sees_every_repository(app: AuthApp) -> None:
    token = app.registry_token(ADMIN, "registry:catalog:*")
    assert _walk(app, 4, **bearer(token)) == [REPOSITORIES[:4], REPOSITORIES[4:8], ["zoo/q"]]


def test_anonymous_callers_are_still_challenged(app: AuthApp) -> None:
    anonymous_token = app.registry_token(None, "registry:catalog:*")

    without = app.http.get("/v2/_catalog")
    with_token = app.http.get("/v2/_catalog", headers=bearer(anonymous_token))

    assert without.status_code == 401
    assert 'scope="registry:catalog:*"' in without.headers["WWW-Authenticate"]
    assert with_token.status_code == 401


def test_the_walk_does_not_descend_where_nothing_is_shown(
    app: AuthApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = app.storage
    listed: list[str] = []
    real_list = driver.list

    def recording(path: str) -> list[str]:
        listed.append(path.rsplit("repositories", 1)[-1])
        return real_list(path)

    monkeypatch.setattr(driver, "list", recording)
    shown = PullFilter(((Grant("zoo", frozenset({"pull"})),),))

    page = catalog.list_repositories(driver, 10, None, shown)

    assert page.items == ["zoo/q"]
    assert listed == ["", "/zoo", "/zoo/q"]  # never alpha, library, team...
