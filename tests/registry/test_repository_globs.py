"""Repository globs: what `*`, `?` and `**` select, and the globs refused."""

from __future__ import annotations

import pytest

from registry.content.repository_globs import InvalidGlob, compile_glob


@pytest.mark.parametrize(
    ("glob", "selected", "not_selected"),
    [
        ("team/**", ["team/app", "team/a/b/c"], ["team", "teams/app", "other/team/app"]),
        ("**", ["a", "a/b", "team/a/b"], []),
        ("team/*", ["team/app", "team/a-b"], ["team/a/b", "team"]),
        ("team/app", ["team/app"], ["team/app2", "team/ap"]),
        ("*/app", ["team/app", "x/app"], ["app", "a/b/app"]),
        ("a/**/app", ["a/app", "a/b/app", "a/b/c/app"], ["a/app2", "b/app"]),
        ("team/app-?", ["team/app-1"], ["team/app-12", "team/app-"]),
        ("team/v1.*", ["team/v1.2"], ["team/v1x2"]),
    ],
)
def test_what_a_glob_selects(glob: str, selected: list[str], not_selected: list[str]) -> None:
    compiled = compile_glob(glob)
    assert [name for name in selected if compiled.matches(name)] == selected
    assert [name for name in not_selected if compiled.matches(name)] == []


@pytest.mark.parametrize("glob", ["", "team//app", "/team", "team/", "Team/*", "team/a**", "a b"])
def test_globs_that_cannot_select_a_repository_are_refused(glob: str) -> None:
    with pytest.raises(InvalidGlob):
        compile_glob(glob)
