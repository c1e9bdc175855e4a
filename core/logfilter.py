"""Log records pass through the scrubber before any handler writes them, and the chattiest
client libraries stay at WARNING: at DEBUG the model SDK and httpx log whole request bodies and
headers, which is both a leak risk and noise."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import IO, Literal

from pythonjsonlogger.json import JsonFormatter

from core.logcontext import FIELDS, ContextFilter

# Loggers of the SDKs we call; kept at WARNING (or quieter) whatever STEADFAST_LOG_LEVEL says.
THIRD_PARTY = (
    "anthropic",
    "httpx",
    "httpcore",
    "httpx2",  # the name some anthropic SDK builds log their vendored client under
    "httpcore2",
    "hvac",
    "urllib3",
    "kubernetes",
    "slack_sdk",
    "slack_bolt",
    "websockets",
)
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LogFormat = Literal["json", "text"]


class TextFormatter(logging.Formatter):
    """The classic line, with the job fields appended as `key=value` when a job is bound."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k))
        return f"{line} [{extra}]" if extra else line


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        # One object per line; the job fields ride along as extra keys (ContextFilter).
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
        )
    if log_format == "text":
        return TextFormatter(FORMAT)
    raise ValueError(f"unknown log format {log_format!r}; use json or text")


def default_format(stream: IO[str] | None = None) -> LogFormat:
    """Text for a person at a terminal, JSON for a log collector."""
    target = stream if stream is not None else sys.stderr
    try:
        return "text" if target.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


class ScrubbingFilter(logging.Filter):
    """Replaces a record's message (arguments merged in), traceback and stack with their
    scrubbed text, so every handler downstream sees only that."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-arguments: keep what there is, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self._scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        record.exc_info = None  # the scrubbed text above replaces it
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True


def configure_logging(
    level: str,
    scrub: Callable[[str], str],
    *,
    stream: IO[str] | None = None,
    quiet: Iterable[str] = THIRD_PARTY,
    log_format: LogFormat | None = None,
) -> logging.Handler:
    """Set the root level and make every root handler scrub its records: the one added here
    (stderr unless `stream`) or, like `logging.basicConfig`, the ones already there when no
    stream is asked for (a second call adds no duplicate handler). Hold the `quiet` loggers at
    WARNING or above. `log_format` (json or text; None: text on a terminal, else JSON) sets
    the formatter of the handler added here. Returns the handler added or found."""
    root = logging.getLogger()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    root.setLevel(numeric)
    if stream is None and root.handlers:
        handlers = list(root.handlers)
    else:
        handlers = [logging.StreamHandler(stream)]
        handlers[0].setFormatter(make_formatter(log_format or default_format(stream)))
        root.addHandler(handlers[0])
    for handler in handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in handler.filters):
            handler.addFilter(ScrubbingFilter(scrub))
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
    for name in quiet:
        logger = logging.getLogger(name)
        logger.setLevel(max(numeric, logging.WARNING))
    return handlers[0]
