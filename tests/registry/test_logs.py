"""registry.logs: third-party SDK loggers held at WARNING unless `logging.level: debug`; the
text and JSON formats."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from registry.config import parse_settings
from registry.logs import SDK_LOGGERS, configure_logging

# The logger azure-core's HTTP policy writes every request and its headers to, at INFO.
AZURE_HTTP = "azure.core.pipeline.policies.http_logging_policy"


class Stderr:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def getvalue(self) -> str:
        return self.capsys.readouterr().err


@pytest.fixture()
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    """What configure_logging writes; the root logger and SDK levels restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in SDK_LOGGERS}
    yield Stderr(capsys)
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def _configure(raw: dict[str, Any]) -> None:
    configure_logging(parse_settings(raw).logging)


def test_sdk_loggers_are_at_warning_by_default(stderr: Stderr) -> None:
    _configure({})
    logging.getLogger(AZURE_HTTP).info("Request URL: 'https://acct.blob.core.windows.net/'")
    logging.getLogger("botocore.endpoint").warning("connection pool full")
    logging.getLogger("hth.storage").info("our own line")

    assert logging.getLogger(AZURE_HTTP).getEffectiveLevel() == logging.WARNING
    assert {logging.getLogger(n).getEffectiveLevel() for n in SDK_LOGGERS} == {logging.WARNING}
    written = stderr.getvalue()
    assert "Request URL" not in written
    assert "connection pool full" in written and "our own line" in written


def test_sdk_loggers_are_at_debug_with_logging_level_debug(stderr: Stderr) -> None:
    _configure({"logging": {"level": "debug"}})
    logging.getLogger(AZURE_HTTP).info("Request URL: 'https://acct.blob.core.windows.net/'")

    levels = {n: logging.getLogger(n).getEffectiveLevel() for n in SDK_LOGGERS}
    assert set(levels.values()) == {logging.DEBUG}, str(levels)
    assert "Request URL" in stderr.getvalue()


def test_a_text_line_starts_with_a_utc_time_level_and_logger(stderr: Stderr) -> None:
    _configure({"logging": {"format": "text"}})
    logging.getLogger("hth.beat").info("beat %s started", "b1")

    line = stderr.getvalue().strip()
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO hth\.beat beat b1 started"
    assert re.fullmatch(pattern, line), line


def test_a_json_line_carries_the_extra_fields_as_keys(stderr: Stderr) -> None:
    _configure({"logging": {"format": "json"}})
    logging.getLogger("hth.gc").warning("swept", extra={"blobs": 3})

    entry = json.loads(stderr.getvalue())
    assert entry["ts"].endswith("Z")
    assert (entry["level"], entry["logger"], entry["msg"], entry["blobs"]) == (
        "warning",
        "hth.gc",
        "swept",
        3,
    )
