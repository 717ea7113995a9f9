"""Names, tags and digests: whatever comes in, the validators accept only what the
grammar allows (nothing that could climb out of a storage path) or raise the typed error."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.content.names import (
    NAME_PATTERN,
    TAG_PATTERN,
    is_tag,
    validate_digest,
    validate_name,
    validate_tag,
)
from registry.errors import DigestInvalid, NameInvalid, TagInvalid
from tests.fuzz.counting import count

HOSTILE = st.sampled_from(
    ["..", ".", "/", "//", "\\", "%2e", "%2f", "\x00", "~", "a", "b0", "-", "_", "__", ":", "@"]
)
hostile_text = st.lists(HOSTILE, max_size=8).map("".join) | st.text(max_size=80)
valid_names = st.from_regex(re.compile(NAME_PATTERN), fullmatch=True).filter(
    lambda n: len(n) <= 255
)


def _safe_path_part(text: str) -> bool:
    parts = text.split("/")
    return all(p not in ("", ".", "..") for p in parts) and "\\" not in text and "\x00" not in text


@settings(settings.get_profile("fuzz"))
@given(hostile_text)
def test_an_accepted_name_is_a_safe_relative_path(text: str) -> None:
    count("names")
    try:
        validate_name(text)
    except NameInvalid:
        return
    assert _safe_path_part(text) and len(text) <= 255 and text == text.lower()


@settings(settings.get_profile("fuzz"), max_examples=100)  # generating from the regex is slow
@given(valid_names)
def test_every_name_of_the_grammar_is_accepted(name: str) -> None:
    count("names")
    assert validate_name(name) == name


@settings(settings.get_profile("fuzz"))
@given(hostile_text | st.from_regex(re.compile(TAG_PATTERN), fullmatch=True))
def test_an_accepted_tag_is_one_path_component(text: str) -> None:
    count("tags")
    try:
        validate_tag(text)
    except TagInvalid:
        assert not is_tag(text)  # reads treat it as naming nothing, pushes refuse it
        return
    assert is_tag(text)
    assert "/" not in text and not text.startswith(".") and 0 < len(text) <= 128


@settings(settings.get_profile("fuzz"))
@given(
    st.one_of(
        hostile_text,
        st.tuples(st.sampled_from(["sha256", "sha512", "md5", "SHA256", "../sha256"]),
                  st.text("0123456789abcdefABCDEF./", max_size=130))
        .map(":".join),
    )
)  # fmt: skip
def test_an_accepted_digest_is_algorithm_and_lowercase_hex(text: str) -> None:
    count("digests")
    try:
        validate_digest(text)
    except DigestInvalid:
        return
    algorithm, _, hexpart = text.partition(":")
    assert algorithm in ("sha256", "sha512")
    assert re.fullmatch(r"[0-9a-f]+", hexpart) and len(hexpart) in (64, 128)
