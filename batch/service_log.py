"""Log lines for a long-lived service: one event per line, machine-readable, to stderr.

Two formats, both with a UTC timestamp, the level and an event name first:

    logfmt: ts=2026-11-24T21:56:20.123Z level=INFO event=done src=a/b.png out=a/b.png ms=412
    json:   {"ts": "2026-11-24T21:56:20.123Z", "level": "INFO", "event": "done", "src": "a/b.png", ...}

stderr is what journald, Docker and supervisord collect, so no file handling here.
A name that is not UTF-8 is written as a JSON string with \\udcXX escapes in both
formats (batch.names): json.loads gives the exact name back, and the line stays UTF-8.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from batch.names import has_raw_bytes, json_text

LOG_FORMATS = ("logfmt", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log the event `name` with key/value fields (None values are left out)."""
    logger.log(level, name, extra={"fields": {k: v for k, v in fields.items() if v is not None}})


def utc_stamp(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds: 2026-11-24T21:56:20.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class _ServiceFormatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"ts": utc_stamp(record.created), "level": record.levelname}
        extra = getattr(record, "fields", None)
        if extra is None:  # a plain log call (e.g. from batch.session): its message is the event text
            fields["event"] = "message"
            fields["msg"] = record.getMessage()
        else:
            fields["event"] = record.getMessage()
            fields.update(extra)
        if self.json:
            return json_text(fields, default=str)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


def _logfmt_value(value: Any) -> str:
    """Bare when safe, else a JSON string (quoted, escaped): keeps one event on one line."""
    if isinstance(value, float):
        value = round(value, 3)
    text = value if isinstance(value, str) else json_text(value, default=str)
    if text and not any(c in text for c in ' ="\n\r\t\\') and not has_raw_bytes(text):
        return text
    return json_text(text)


def setup_logging(fmt: str = "logfmt", level: str = "INFO", stream=None) -> None:
    """Route every logger (ours and the runtime's) through one stderr handler in `fmt`."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_ServiceFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("watchdog").setLevel(max(logging.WARNING, root.level))  # its DEBUG is per inotify event
