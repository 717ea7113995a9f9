"""Logging of the API processes: registry/logs.py's setup, without uvicorn's access lines
(api/access_log.py writes one per request)."""

from __future__ import annotations

import logging

from registry.config import LoggingSettings
from registry.logs import configure_logging as configure_process_logging


def configure_logging(settings: LoggingSettings) -> None:
    configure_process_logging(settings)
    # One access line per request comes from our middleware; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
