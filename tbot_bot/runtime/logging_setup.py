"""Logging configured once, by entry points only (STYLE §2.14).

Machine logs are JSON lines (`ts_utc, level, logger, event, message, fields`); every handler carries
the redacting filter, so no secret value reaches a log whatever a caller passes in.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from tbot_bot.clock import iso_utc
from tbot_bot.config.redact import RedactingFilter

_LEVELS = {"quiet": logging.WARNING, "info": logging.INFO, "verbose": logging.DEBUG}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line with the fields of web_runtime §8.7."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts_utc": iso_utc(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "bot_identity": getattr(record, "bot_identity", None),
            "module": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            body["extra"] = fields
        if record.exc_info:
            body["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_console_logging(level_name: str = "quiet") -> None:
    """A bare stderr handler at launch (JSON lines, redacted)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level_name, logging.WARNING))
