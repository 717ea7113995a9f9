"""Repository name globs, as retention policies and tag protection rules select repositories.

`*` matches any characters within one path component, `?` one character other than `/`,
and `**` any number of whole components: `team/**` selects `team/app` and `team/a/b` but not
`team` itself; `**` alone selects every repository; `team/*` only direct children. Anything
else matches itself. A glob is compiled once into an anchored regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_GLOB_LENGTH = 255
_ALLOWED = re.compile(r"[a-z0-9._/*?-]+")


class InvalidGlob(ValueError):
    """The glob cannot select any valid repository name."""


@dataclass(frozen=True)
class RepositoryGlob:
    """A compiled repository glob; `matches(name)` says whether it selects `name`."""

    text: str
    pattern: re.Pattern[str]

    def matches(self, repository: str) -> bool:
        return self.pattern.fullmatch(repository) is not None


def compile_glob(text: str) -> RepositoryGlob:
    """Compile `text`, or raise InvalidGlob saying what is wrong with it."""
    if not text or len(text) > MAX_GLOB_LENGTH:
        raise InvalidGlob(f"a repository glob has 1 to {MAX_GLOB_LENGTH} characters")
    if not _ALLOWED.fullmatch(text):
        raise InvalidGlob(
            f"repository glob {text!r}: only lowercase letters, digits, '.', '_', '-', '/', "
            "'*' and '?' are allowed"
        )
    parts = text.split("/")
    if any(not part for part in parts):
        raise InvalidGlob(f"repository glob {text!r} has an empty path component")
    if any("**" in part and part != "**" for part in parts):
        raise InvalidGlob(f"repository glob {text!r}: '**' must be a whole path component")
    return RepositoryGlob(text, re.compile(_regex(parts)))


def _regex(parts: list[str]) -> str:
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            # Any number of components; when more follow, the separator is part of the match.
            regex += ".+" if last else "(?:[^/]+/)*"
            continue
        regex += _component(part) + ("" if last else "/")
    return regex


def _component(part: str) -> str:
    out = []
    for char in part:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)
