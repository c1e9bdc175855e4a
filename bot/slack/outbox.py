"""The outbox dispatcher: the only code that posts to Slack on a job's behalf.

A row is marked `sending` before the call and `sent` (with Slack's ts) after. A row found
`sending` at the start of a pass was interrupted (crash, timeout, unknown outcome), so before a
`chat.postMessage` is sent again the channel or thread is read back with
`include_all_metadata=true` and the row's key looked for in `metadata.event_payload.outbox_key`:
found means it was posted, so it is marked sent and not repeated.

Rate limits: the WebClient's `RateLimitErrorRetryHandler` sleeps for `Retry-After` a few times;
if Slack still says 429 the row goes back to `pending` with `not_before` = Retry-After. It is
delayed, never dropped. Only 429 is retried inside the client: a 5xx or a broken connection
leaves the outcome unknown, and the metadata check above is what decides.

Several bots: each process runs a dispatcher, but only the holder of the `outbox-sender` leader
lease (bot/store/leases.py) sends. The others keep trying to take it, and do the moment it
expires (the sender died) or is released (the sender shut down cleanly). Every state change the
sender writes is fenced by its lease token, and rows are marked `sending` before the call, so a
sender that lost the lease stops before its next post, and the next sender verifies whatever
was left `sending` against Slack before posting it again.

Pages: rows whose method is `page.trigger` / `page.resolve` go to PagerDuty or Opsgenie through
`pages` (bot/paging/sender.py), under the same lease and the same fenced marks, never to Slack.

Payload directives (keys starting with `_`, removed before sending):
  _update_of   outbox key of the message this `chat.update` edits (its channel and ts)
  _coalesce    rows sharing it are progress of one message: only the newest is sent
  _after       outbox key that must be sent first
  _thread_of   outbox key whose ts becomes this message's `thread_ts`
  _permalink   {"of": key | "channel"+"ts", "placeholder": str}: replaced by chat.getPermalink
  _console_link {"job": id, "tenant": str|None, "placeholder": str}: the footer's "Open the
               trace", signed now by this bot's console links; removed when it has none
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.console.links import ConsoleLinks
from bot.errors import LeadershipLost
from bot.handoff.render_slack import trace_link_text
from bot.metrics import Metrics
from bot.model import OutboxMessage, OutboxState
from bot.paging.rows import is_page
from bot.paging.sender import PageSender
from bot.store.leases import SENDER, LeaderLease
from bot.store.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import OUTBOX_DIRECTIVE
from core.retry import parse_retry_after

log = logging.getLogger(__name__)

METADATA_EVENT_TYPE = "steadfast_outbox"
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
DONE_ERRORS = frozenset({"already_reacted"})  # the effect we wanted is already there


def outbox_metadata(key: str, job_id: str | None) -> dict[str, Any]:
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"outbox_key": key, "job_id": job_id},
    }


class _Broken(Exception):
    """A row this one depends on failed for good: this one cannot be sent either."""


class _Defer(Exception):
    def __init__(self, seconds: float, why: str) -> None:
        super().__init__(why)
        self.seconds = seconds


class OutboxDispatcher:
    """Sends due outbox rows, one at a time, on one thread. With `lease_ttl` (what the bot
    uses) the thread sends only while it holds the sender lease, so any number of bots can
    share a database; without it `run_once` sends unconditionally (one process, tests)."""

    def __init__(
        self,
        store: Store,
        client: WebClient,
        *,
        update_interval: float = 1.0,
        poll_interval: float = 0.2,
        lease_ttl: float | None = None,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        links: ConsoleLinks | None = None,
        on_sent: Callable[[OutboxMessage, str], None] | None = None,
        pages: PageSender | None = None,
    ) -> None:
        self.store = store
        self.links = links  # signs the handoff's console link; None: the link is left out
        # called with a posted row and its ts before the row is marked sent (so a crash in
        # between calls it again after the post is found): must be idempotent
        self.on_sent = on_sent
        # pages with no pager configured fail loudly (event, metric, doctor), never reach Slack
        self.pages = pages or PageSender(store, None, metrics=metrics)
        self.tracing = tracing or Tracing.disabled()
        self.client = client
        self.metrics = metrics  # steadfast_slack_errors_total by Slack's error code
        self.update_interval = update_interval
        self.poll_interval = poll_interval
        self.lease_ttl = lease_ttl
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.clock = clock
        self._lease: LeaderLease | None = None
        self._renewed = 0.0  # clock time of the last acquire or renew
        self._next_try = 0.0  # clock time of the next attempt to take the lease
        self._last_update: dict[str, float] = {}  # target key -> when it was last edited
        self._backoff: dict[str, float] = {}  # key -> clock time before which not to retry
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    # --- thread ---------------------------------------------------------------------------
    def start(self) -> OutboxDispatcher:
        self._thread = threading.Thread(target=self._loop, name="slack-outbox", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """New rows were written: look now rather than at the next poll."""
        self._wake.set()

    @property
    def is_sender(self) -> bool:
        return self.lease_ttl is None or self._lease is not None

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still mid-call: keep the lease; it expires on its own
        self.pages.close()
        if self._lease is not None:
            try:  # hand over now rather than after the TTL (rolling updates)
                self.store.leader_release(self._lease)
            except Exception:
                log.warning("outbox sender: could not release the lease; it expires on its own")
            self._lease = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except LeadershipLost as exc:
                log.warning("outbox sender: %s", exc)
                self._lease = None
                busy = 0
            except Exception:  # the store or Slack failing must not end the thread
                log.exception("outbox pass failed; retrying")
                busy = 0
            if not busy:
                wait = self.poll_interval
                if not self.is_sender and self.lease_ttl is not None:
                    wait = max(0.0, self._next_try - self.clock())
                self._wake.wait(wait)
                self._wake.clear()

    # --- the sender lease -----------------------------------------------------------------
    def _hold(self) -> bool:
        """True while this dispatcher may send: takes the lease when it is free, renews it a
        third of the way through. Raises LeadershipLost when a renewal finds it gone."""
        if self.lease_ttl is None:
            return True
        now = self.clock()
        if self._lease is None:
            if now < self._next_try:
                return False
            # followers look a few times per TTL: takeover within about 1.2 TTL of a death
            self._next_try = now + self.lease_ttl / 5
            self._lease = self.store.leader_acquire(SENDER, self.holder, ttl=self.lease_ttl)
            if self._lease is None:
                return False
            self._renewed = now
            log.info("outbox sender: %s took the lease (token %d)", self.holder, self._lease.token)
            return True
        if now - self._renewed >= self.lease_ttl / 3:
            try:
                self._lease = self.store.leader_renew(self._lease, ttl=self.lease_ttl)
            except LeadershipLost:
                self._lease = None
                raise
            self._renewed = now
        return True

    def _mark(self, key: str, state: OutboxState, **fields: Any) -> None:
        """Every outbox write of the sender, fenced by its lease token."""
        self.store.outbox_mark(key, state, leader=self._lease, **fields)

    # --- one pass -------------------------------------------------------------------------
    def run_once(self) -> int:
        """Send what is due now; returns how many rows reached a final state."""
        if not self._hold():
            return 0
        rows = sorted(self.store.outbox_due(limit=200), key=lambda r: (r.created_at, r.key))
        newest: dict[str, str] = {}
        for row in rows:
            group = row.payload.get("_coalesce")
            if group:
                newest[group] = row.key
        done = 0
        now = self.clock()
        for row in rows:
            if self._stop.is_set() or not self._hold():
                break
            if self._backoff.get(row.key, 0.0) > now:
                continue
            group = row.payload.get("_coalesce")
            if group and newest.get(group) != row.key:
                self._mark(row.key, OutboxState.SENT, error="superseded")
                done += 1
                continue
            done += self._traced(row)
        return done

    def _traced(self, row: OutboxMessage) -> int:
        """`_process` in an `outbox.send` span, in the trace of the job that queued the row."""
        attributes = {
            "steadfast.outbox.key": row.key,
            "steadfast.outbox.method": row.method,
            "steadfast.job.id": row.job_id,
        }
        parent = row.payload.get(OUTBOX_DIRECTIVE)
        with self.tracing.span("outbox.send", attributes, parent=parent, kind=SpanKind.CLIENT):
            return self._process(row)

    def _process(self, row: OutboxMessage) -> int:
        if is_page(row.method):
            return self.pages.deliver(row, self._mark)
        if row.state == OutboxState.SENDING and row.method == "chat.postMessage":
            try:
                found = self._find_posted(row)
            except (SlackClientError, OSError) as exc:
                # cannot tell whether it was posted: never resend blind
                log.warning("outbox %s: cannot verify (%s); will try again", row.key, exc)
                self._backoff[row.key] = self.clock() + 2.0
                return 0
            if found is not None:
                self._mark_sent(row, found[0], found[1])
                return 1
        try:
            self._mark(row.key, OutboxState.SENDING)
            method, args = self._prepare(row)
            response = self.client.api_call(method, json=args)
        except _Defer as exc:
            self._mark(row.key, OutboxState.PENDING, not_before=_utc(exc.seconds), error=str(exc))
            return 0
        except _Broken as exc:
            log.error("outbox %s: %s", row.key, exc)
            self._mark(row.key, OutboxState.FAILED, error=str(exc))
            return 1
        except SlackApiError as exc:
            return self._api_error(row, exc)
        except (SlackClientError, OSError) as exc:
            self._count_error(type(exc).__name__)
            # the outcome is unknown: leave it `sending`, verify against Slack on the next pass
            log.warning("outbox %s: %s; will verify before resending", row.key, exc)
            self._backoff[row.key] = self.clock() + 1.0
            return 0
        data = response.data if isinstance(response.data, dict) else {}
        self._mark_sent(row, data.get("ts") or args.get("ts"), data.get("channel"))
        return 1

    def _mark_sent(self, row: OutboxMessage, ts: Any, channel: Any) -> None:
        if self.on_sent is not None and ts:
            self.on_sent(row, str(ts))
        self._mark(
            row.key,
            OutboxState.SENT,
            ts=str(ts) if ts else None,
            channel=str(channel) if channel else row.payload.get("channel"),
        )
        self._backoff.pop(row.key, None)
        # a post or an edit both count towards the per-message edit throttle
        self._last_update[row.payload.get("_update_of") or row.key] = self.clock()
        self.sent += 1

    def _count_error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_errors.labels(kind=kind).inc()

    def _api_error(self, row: OutboxMessage, exc: SlackApiError) -> int:
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        self._count_error(error or f"http_{status}")
        if error in DONE_ERRORS:
            self._mark_sent(row, row.payload.get("timestamp"), row.payload.get("channel"))
            return 1
        if status == 429 or error in RETRYABLE_ERRORS or status >= 500:
            retry_after = parse_retry_after(exc.response.headers.get("Retry-After")) or 0.0
            delay = max(retry_after, 1.0)
            log.info("outbox %s: %s; retrying in %.0f s", row.key, error or status, delay)
            if status >= 500 and row.method == "chat.postMessage":
                # a 5xx may still have posted: stay `sending` so the next try verifies first
                self._backoff[row.key] = self.clock() + delay
                return 0
            self._mark(
                row.key, OutboxState.PENDING, not_before=_utc(delay), error=error or str(status)
            )
            return 0
        log.error("outbox %s: Slack refused it for good: %s", row.key, error)
        self._mark(row.key, OutboxState.FAILED, error=error or str(status))
        return 1

    # --- building the call ----------------------------------------------------------------
    def _sent_row(self, key: str, why: str) -> OutboxMessage:
        row = self.store.outbox_get(key)
        if row is None:
            raise _Defer(5.0, f"{why}: {key} does not exist yet")
        if row.state == OutboxState.FAILED:
            raise _Broken(f"{why}: {key} failed ({row.last_error})")
        if row.state != OutboxState.SENT or not row.ts:
            raise _Defer(0.5, f"{why}: waiting for {key}")
        return row

    def _prepare(self, row: OutboxMessage) -> tuple[str, dict[str, Any]]:
        payload = dict(row.payload)
        directives = {k: payload.pop(k) for k in list(payload) if k.startswith("_")}
        if "_after" in directives:
            self._sent_row(directives["_after"], "ordered after")
        if "_thread_of" in directives:
            payload["thread_ts"] = self._sent_row(directives["_thread_of"], "thread").ts
        if "_update_of" in directives:
            target = self._sent_row(directives["_update_of"], "update of")
            wait = self._last_update.get(target.key, -1e9) + self.update_interval - self.clock()
            if wait > 0:
                raise _Defer(wait, "throttled")
            payload["channel"] = target.channel or payload.get("channel")
            payload["ts"] = target.ts
        if "_permalink" in directives:
            payload = self._fill_permalink(payload, directives["_permalink"])
        if "_console_link" in directives:
            payload = self._fill_console_link(payload, directives["_console_link"])
        if row.method == "chat.postMessage":
            payload["metadata"] = outbox_metadata(row.key, row.job_id)
        return row.method, payload

    def _fill_permalink(self, payload: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        if spec.get("of"):
            target = self._sent_row(spec["of"], "permalink")
            channel, ts = target.channel, target.ts
        else:
            channel, ts = spec.get("channel"), spec.get("ts")
        link = self.client.chat_getPermalink(channel=str(channel), message_ts=str(ts))
        permalink = str(link.get("permalink") or "")
        raw = json.dumps(payload).replace(str(spec["placeholder"]), permalink)
        filled: dict[str, Any] = json.loads(raw)
        return filled

    def _fill_console_link(self, payload: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        """Signed at send time, so the link's life starts when Slack shows it; the token never
        sits in the outbox table."""
        placeholder = trace_link_text(str(spec["placeholder"]))
        link = ""
        if self.links is not None:
            tenant = spec.get("tenant")
            link = trace_link_text(
                self.links.job_url(str(spec["job"]), str(tenant) if tenant else None)
            )
        raw = json.dumps(payload).replace(json.dumps(placeholder)[1:-1], json.dumps(link)[1:-1])
        filled: dict[str, Any] = json.loads(raw)
        return filled

    # --- recovery -------------------------------------------------------------------------
    def _find_posted(self, row: OutboxMessage) -> tuple[str, str] | None:
        """(ts, channel) of the message this row already posted, if Slack has it."""
        payload = row.payload
        channel = str(payload.get("channel") or "")
        thread = payload.get("thread_ts")
        if "_thread_of" in payload:
            parent = self.store.outbox_get(str(payload["_thread_of"]))
            thread = parent.ts if parent else None
        if thread:
            response = self.client.conversations_replies(
                channel=channel, ts=str(thread), include_all_metadata=True, limit=1000
            )
        else:
            response = self.client.conversations_history(
                channel=channel, include_all_metadata=True, limit=200
            )
        for message in response.get("messages") or []:
            meta = (message.get("metadata") or {}).get("event_payload") or {}
            if meta.get("outbox_key") == row.key:
                return str(message["ts"]), channel
        return None


def _utc(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
