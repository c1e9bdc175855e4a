"""Log records pass through the scrubber before any handler writes them, and the chattiest
client libraries stay at WARNING: at DEBUG the model SDK and httpx log whole request bodies and
headers, which is both a leak risk and noise."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO

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
) -> logging.Handler:
    """Set the root level and make every root handler scrub its records: the one added here
    (stderr unless `stream`) or, like `logging.basicConfig`, the ones already there when no
    stream is asked for (a second call adds no duplicate handler). Hold the `quiet` loggers at
    WARNING or above. Returns the handler added or found."""
    root = logging.getLogger()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    root.setLevel(numeric)
    if stream is None and root.handlers:
        handlers = list(root.handlers)
    else:
        handlers = [logging.StreamHandler(stream)]
        handlers[0].setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handlers[0])
    for handler in handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in handler.filters):
            handler.addFilter(ScrubbingFilter(scrub))
    for name in quiet:
        logger = logging.getLogger(name)
        logger.setLevel(max(numeric, logging.WARNING))
    return handlers[0]
