"""Delivering page rows: the outbox sender hands each `page.*` row here instead of to Slack.

Exactly once, as far as on-call can tell: the row is marked `sending` before the call and
`sent` after, fenced by the sender lease like every Slack post. A row found `sending` (the
sender died mid-call, or the answer was lost) is sent again without asking first: PagerDuty
folds a trigger with the same `dedup_key` into the open alert, and Opsgenie a create with the
same `alias` into the open alert's count, so the repeat pages nobody. A resolve waits until
every trigger of its job and pager is final, and is dropped (marked sent, "nothing paged")
when none reached the pager.

Answers: 202 → sent. 429, 5xx, timeouts → back to `pending` until the server's Retry-After
(or a growing backoff) passes: delayed, never dropped. 400/422 (the pager refused the event),
401/403 (the key) and a key name the settings do not hold → `failed`, never retried, and
reported: a `paged` event on the job, `steadfast_pages_total{outcome}`, `steadfast doctor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.metrics import Metrics
from bot.model import EventKind, OutboxMessage, OutboxState
from bot.paging.rows import RESOLVE, trigger_prefix
from bot.store.store import Store
from core.scrubber import Scrubber
from integrations.errors import AuthError, BadRequest, NotConfigured, Unavailable
from integrations.paging import Page, Pager

log = logging.getLogger(__name__)

Mark = Callable[..., None]  # (key, state, **fields): the dispatcher's fenced outbox_mark
Permalink = Callable[[str, str], str | None]  # (channel, ts) -> link, None when unknown

_FINAL = (OutboxState.SENT, OutboxState.FAILED)


class PageSender:
    def __init__(
        self,
        store: Store,
        pager: Pager | None,
        *,
        metrics: Metrics | None = None,
        permalink: Permalink | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.store = store
        # a page leaves for a third party: the ticket's own words may hold a pasted credential
        self.scrubber = scrubber or Scrubber()
        self.pager = pager
        self.metrics = metrics
        self.permalink = permalink
        self._backoff: dict[str, float] = {}  # key -> seconds of the last deferral

    def close(self) -> None:
        if self.pager is not None:
            self.pager.close()

    def deliver(self, row: OutboxMessage, mark: Mark) -> int:
        """Send one page row; returns 1 when it reached a final state."""
        try:
            page = Page.from_dict(row.payload)
        except (KeyError, ValueError) as exc:
            mark(row.key, OutboxState.FAILED, error=f"not a page: {exc}")
            return 1
        if row.method == RESOLVE:
            waiting = self._resolve_waits(row, page, mark)
            if waiting is not None:
                return waiting
        if self.pager is None:
            return self._refused(row, page, mark, "unconfigured", "paging is not configured")
        mark(row.key, OutboxState.SENDING)
        try:
            page = self._with_links(page, row.payload.get("_links") or [])
            event = self.scrubber.scrub_obj(page.event)
            sent = self.pager.send(
                Page(page.service, page.key_name, page.action, page.dedup_key, event)
            )
        except Unavailable as exc:
            delay = self._delay(row, exc.retry_after)
            log.info("page %s: %s; trying again in %.0f s", row.key, exc, delay)
            self._count(page, "deferred")
            mark(row.key, OutboxState.PENDING, not_before=_utc(delay), error=str(exc))
            return 0
        except NotConfigured as exc:
            return self._refused(row, page, mark, "unconfigured", str(exc))
        except AuthError as exc:
            return self._refused(row, page, mark, "unauthorized", str(exc))
        except BadRequest as exc:
            return self._refused(row, page, mark, "refused", str(exc))
        self._backoff.pop(row.key, None)
        mark(row.key, OutboxState.SENT)
        self._count(page, "sent")
        self._event(row, page, "sent", answer=_public(sent.answer))
        return 1

    # --- resolve ordering -----------------------------------------------------------------
    def _resolve_waits(self, row: OutboxMessage, page: Page, mark: Mark) -> int | None:
        """None: go ahead and resolve. 0: a trigger is still on its way. 1: nothing to resolve."""
        triggers = self.store.outbox_with_prefix(trigger_prefix(page.dedup_key, page))
        if any(t.state not in _FINAL for t in triggers):
            mark(row.key, OutboxState.PENDING, not_before=_utc(1.0), error="after the trigger")
            return 0
        if not any(t.state == OutboxState.SENT for t in triggers):
            mark(row.key, OutboxState.SENT, error="nothing was paged; nothing to resolve")
            return 1
        return None

    # --- details --------------------------------------------------------------------------
    def _with_links(self, page: Page, links: list[dict[str, Any]]) -> Page:
        """Fill the Slack permalinks that exist by now; a page never waits for Slack."""
        if page.action != "trigger" or not links or self.permalink is None:
            return page
        found: list[dict[str, str]] = []
        for link in links:
            channel, ts = link.get("channel"), link.get("ts")
            if link.get("of"):
                target = self.store.outbox_get(str(link["of"]))
                channel, ts = (target.channel, target.ts) if target else (None, None)
            if channel and ts:
                href = self.permalink(str(channel), str(ts))
                if href:
                    found.append({"href": href, "text": str(link.get("text") or "Slack")})
        if not found:
            return page
        event = dict(page.event)
        payload = dict(event.get("payload") or {})
        details = dict(payload.get("custom_details") or {})
        details.update({link["text"]: link["href"] for link in found})
        payload["custom_details"] = details
        event["payload"] = payload
        event["links"] = found
        return Page(page.service, page.key_name, page.action, page.dedup_key, event)

    def _delay(self, row: OutboxMessage, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 1.0)
        # no Retry-After: PagerDuty suggests backing off "a few minutes"; grow up to that
        last = self._backoff.get(row.key, 2.5)
        delay = min(last * 2, 180.0)
        self._backoff[row.key] = delay
        return delay

    def _refused(self, row: OutboxMessage, page: Page, mark: Mark, outcome: str, why: str) -> int:
        log.error("page %s (%s %s): %s", row.key, page.service, page.action, why)
        mark(row.key, OutboxState.FAILED, error=why[:500])
        self._count(page, outcome)
        self._event(row, page, outcome, error=why[:500])
        return 1

    def _count(self, page: Page, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.pages.labels(
                service=page.service, action=page.action, outcome=outcome
            ).inc()

    def _event(self, row: OutboxMessage, page: Page, outcome: str, **data: Any) -> None:
        """The job's log says what on-call was sent (or why not). Best effort: the row's own
        state is the record that counts; a pruned job has no log to write to."""
        if row.job_id is None:
            return
        record = {
            "service": page.service,
            "target": page.key_name,
            "action": page.action,
            "dedup_key": page.dedup_key,
            "outcome": outcome,
            "outbox_key": row.key,
            **data,
        }
        try:
            self.store.record(row.job_id, EventKind.PAGED, record)
        except Exception:
            log.warning("page %s: could not record the %s event", row.key, outcome)


def _public(answer: dict[str, Any]) -> dict[str, Any]:
    """The parts of a pager's answer worth keeping (neither answer carries a secret)."""
    keep = ("status", "message", "dedup_key", "result", "requestId")
    return {k: answer[k] for k in keep if k in answer}


def _utc(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
