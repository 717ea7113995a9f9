"""Logging of every component: one line per record (text or JSON) on stderr, the level from
hth.json's `logging`, and the chatty loggers of third-party SDKs held at WARNING."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only in annotations: this module loads no pydantic (worker/boot.py)
    from registry.config import LoggingSettings

# uvicorn adds `color_message`, its message with terminal colour codes: not a field of ours.
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

# Libraries that log every HTTP request (often with its headers), every SQL statement or every
# migration step at INFO or DEBUG: below WARNING they bury our own lines. `logging.level:
# debug` lets them through.
SDK_LOGGERS = (
    "azure",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "google",
    "swiftclient",
    "keystoneauth",
    "oss2",
    "sqlalchemy.engine",
    "alembic",
    "httpx",
    "httpcore",
)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-12-07T10:00:00.123Z INFO hth.access GET /v2/ 200 ...`: UTC, one line a record."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a record; the `extra` fields of a record are keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format == "json" else TextFormatter()


def configure_logging(settings: LoggingSettings) -> None:
    """Every record of the process to stderr in the configured format, at the level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings))
    logging.getLogger().handlers[:] = [handler]
    apply_levels(settings)


def apply_levels(settings: LoggingSettings) -> None:
    """The root level from the settings; SDK loggers at WARNING unless the level is debug.
    Called again when a configuration generation applies."""
    apply_level(settings.level)


def apply_level(level: str) -> None:
    """apply_levels for a `logging.level` value ("info", "debug", ...)."""
    logging.getLogger().setLevel(level.upper())
    # DEBUG, not NOTSET: SQLAlchemy holds its parent logger `sqlalchemy` at WARNING.
    sdk_level = logging.DEBUG if level == "debug" else logging.WARNING
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(sdk_level)
