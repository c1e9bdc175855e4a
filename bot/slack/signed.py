"""Signed-request checks that run before Bolt sees an HTTP request.

Bolt verifies the HMAC and the 5-minute window, but reads the timestamp with `int()` (a
malformed header became a 500 with a traceback) and accepts the same signed request again for
as long as the window lasts. Here a malformed timestamp is a 401, and every accepted signature
is remembered in the store until its window closes, so a captured request replayed to any bot
process sharing the database is refused.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.signature import Clock, SignatureVerifier

from bot.errors import StoreError
from bot.store.store import Store

log = logging.getLogger(__name__)

WINDOW_SECONDS = 5 * 60  # Slack's own replay window for X-Slack-Request-Timestamp
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Verdict:
    """`status` 0: pass the request on; otherwise the HTTP status to answer with."""

    status: int
    reason: str = ""


class SignedRequests:
    def __init__(
        self, secret: str, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._verifier = SignatureVerifier(secret, clock=_Clock(clock))
        self._store = store
        self._clock = clock

    def check(self, body: bytes, timestamp: str | None, signature: str | None) -> Verdict:
        if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
            return Verdict(401, "X-Slack-Request-Timestamp is not a Unix time in seconds")
        if not signature:
            return Verdict(401, "X-Slack-Signature is missing")
        sent = int(timestamp)
        if abs(self._clock() - sent) > WINDOW_SECONDS:
            return Verdict(401, "the request timestamp is outside the 5-minute window")
        if not self._verifier.is_valid(body, timestamp, signature):
            return Verdict(401, "the request signature is invalid")
        expires = datetime.fromtimestamp(sent + WINDOW_SECONDS, UTC)
        try:
            fresh = self._store.remember_signature(signature, expires)
        except StoreError as exc:
            log.error("cannot check for a replayed Slack request: %s", exc)
            return Verdict(503, "the bot cannot reach its database")  # Slack retries later
        if not fresh:
            log.warning("refused a replayed Slack request (timestamp %s)", timestamp)
            return Verdict(401, "this signed request was already received")
        return Verdict(0)


class _Clock(Clock):
    """slack_sdk's verifier asks a clock object for `now()`."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()
