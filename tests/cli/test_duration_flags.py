"""The CLI's duration flags are checked when the command line is parsed: a bad one is a
usage error (exit 2) naming the flag, before anything is sent."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.main import cli


@pytest.mark.parametrize(
    "args",
    [
        ["tokens", "create", "ci", "--expires-in", "soon"],
        ["me", "tokens", "create", "ci", "--expires-in", "soon"],
        ["login", "--username", "alice", "--expires-in", "soon"],
    ],
)
def test_a_bad_expires_in_is_refused_before_anything_is_sent(args: list[str]) -> None:
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2, refused.output
    assert "Invalid value for '--expires-in': invalid duration 'soon'" in refused.output


def test_a_duration_flag_too_long_for_a_timedelta_is_refused_too() -> None:
    refused = CliRunner().invoke(cli, ["tokens", "create", "ci", "--expires-in", "9" * 20 + "d"])
    assert refused.exit_code == 2 and "Invalid value for '--expires-in'" in refused.output
