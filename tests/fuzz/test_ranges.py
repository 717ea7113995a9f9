"""`Range` and `Content-Range` parsing against a model of RFC 9110 and the distribution-spec:
any header gives a range inside the blob, "all of it", or the typed error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.content.ranges import parse_chunk_range, parse_range_request
from registry.errors import BlobUploadInvalid, RangeInvalid
from tests.fuzz.counting import count

numbers = st.one_of(st.integers(0, 2**20), st.integers(0, 10**19), st.just(""))
range_headers = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda unit, first, last, extra: f"{unit}={first}-{last}{extra}",
        st.sampled_from(["bytes", "Bytes", "items", " bytes"]),
        numbers,
        numbers,
        st.sampled_from(["", ",0-1", " ", "/10"]),
    ),
)


@settings(settings.get_profile("fuzz"))
@given(range_headers, st.integers(0, 2**20))
def test_range_request_is_inside_the_blob_or_refused(header: str, size: int) -> None:
    count("ranges")
    try:
        found = parse_range_request(header, size)
    except RangeInvalid as exc:
        assert exc.status == 416
        assert exc.headers["Content-Range"] == f"bytes */{size}"
        return
    if found is not None:
        assert 0 <= found.start <= found.end < size
        assert found.length == found.end - found.start + 1


@st.composite
def satisfiable(draw: st.DrawFn) -> tuple[int, int, int]:
    size = draw(st.integers(1, 2**20))
    return draw(st.integers(0, size - 1)), draw(st.integers(0, 2**20)), size


@settings(settings.get_profile("fuzz"))
@given(satisfiable())
def test_satisfiable_ranges_match_the_model(case: tuple[int, int, int]) -> None:
    count("ranges")
    start, length, size = case
    found = parse_range_request(f"bytes={start}-{start + length}", size)
    suffix = parse_range_request(f"bytes=-{length + 1}", size)
    assert found is not None and suffix is not None
    assert (found.start, found.end) == (start, min(start + length, size - 1))
    assert (suffix.start, suffix.end) == (max(size - length - 1, 0), size - 1)


@settings(settings.get_profile("fuzz"))
@given(st.one_of(st.text(max_size=50), st.builds("{}-{}".format, numbers, numbers)))
def test_chunk_range_parses_or_raises_the_typed_error(header: str) -> None:
    count("content-ranges")
    try:
        found = parse_chunk_range(header)
    except (BlobUploadInvalid, RangeInvalid) as exc:
        assert exc.status in (400, 416)
        return
    assert 0 <= found.start <= found.end
