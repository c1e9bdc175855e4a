"""Alertmanager notifications in, jobs and Slack posts out (as outbox rows, like the Slack
front door: nothing here calls Slack).

- a firing alert a route matches → a job (idempotent on fingerprint + startsAt), a message
  that opens its thread in the route's channel, and the status message in that thread
- the same alert again (Alertmanager's `repeat_interval`, a retried delivery) → nothing new
- more firing alerts on one route than its `max_alerts_per_group` → the first ones (oldest
  first) are investigated, the rest listed in the first one's thread
- a resolved alert → one note in its thread and an `alert_resolved` event: a running job is
  told (the model reads it at its next step), never stopped
- an alert no route matches → counted as unrouted, nothing stored
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry.trace import SpanKind

from bot.alerts.keys import alert_job_key, alert_root_key
from bot.alerts.payload import Alert, Notification, clip, label_line, ticket_text
from bot.handoff.render_slack import context, escape, section
from bot.metrics import Metrics
from bot.model import EventKind, Job, OutboxPost, Ticket, outbox_key
from bot.slack import messages
from bot.slack.notifier import status_key, status_row
from bot.store.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import with_traceparent
from policy.alerts import AlertRoute
from policy.source import PolicySource

log = logging.getLogger(__name__)

MAX_LISTED = 20  # alerts over a route's cap named in the thread; the rest are counted


@dataclass
class Result:
    """What one notification did (the endpoint's response body, and tests)."""

    created: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    unrouted: int = 0
    over_cap: int = 0
    resolved: list[str] = field(default_factory=list)
    resolved_unknown: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "duplicate": self.duplicate,
            "unrouted": self.unrouted,
            "over_cap": self.over_cap,
            "resolved": self.resolved,
            "resolved_unknown": self.resolved_unknown,
        }


class AlertIntake:
    def __init__(
        self,
        store: Store,
        policy: PolicySource,
        *,
        scrub: Callable[[str], str],
        metrics: Metrics | None = None,
        on_outbox: Callable[[], None] = lambda: None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self._tracing = tracing or Tracing.disabled()
        self._policy = policy
        self._scrub = scrub
        self._metrics = metrics or Metrics()  # a private registry when nobody scrapes
        self._on_outbox = on_outbox

    def receive(self, notification: Notification) -> Result:
        result = Result()
        policy = self._policy.current()
        firing: dict[int, tuple[AlertRoute, list[Alert]]] = {}
        for alert in notification.alerts:
            self._metrics.alerts_received.labels(status=alert.status).inc()
            if alert.status == "resolved":
                self._resolved(alert, result)
                continue
            route = policy.alert_route_for(alert.labels)
            if route is None:
                result.unrouted += 1
                self._metrics.alerts_unrouted.inc()
                log.info("alert %s (%s) matches no alert route", alert.name, alert.fingerprint)
                continue
            firing.setdefault(id(route), (route, []))[1].append(alert)
        for route, alerts in firing.values():
            self._start(route, _distinct(alerts), policy.tenant_for_channel(route.channel), result)
        self._on_outbox()
        return result

    # --- firing -----------------------------------------------------------------------------
    def _start(
        self, route: AlertRoute, alerts: list[Alert], channel_tenant: str | None, result: Result
    ) -> None:
        # oldest first: a resend with one more alert in the group starts the same ones
        alerts.sort(key=lambda a: (a.starts_at, a.fingerprint))
        taken, rest = alerts[: route.max_alerts_per_group], alerts[route.max_alerts_per_group :]
        first: Job | None = None
        for alert in taken:
            tenant = route.tenant or channel_tenant
            attributes = {"steadfast.tenant": tenant, "steadfast.slack.channel": route.channel}
            # each alert's trace starts here, as a mention's does, and ends with its handoff
            with self._tracing.span("alertmanager.alert", attributes, kind=SpanKind.SERVER) as span:
                ticket = Ticket(
                    text=ticket_text(alert, self._scrub),
                    channel=route.channel,
                    tenant=tenant,
                    traceparent=self._tracing.traceparent(),
                )
                job, created = self.store.submit(
                    ticket,
                    key=alert_job_key(alert.fingerprint, alert.starts_at),
                    posts=partial(self._thread, alert=alert, traceparent=ticket.traceparent),
                )
                span.set_attributes(
                    {"steadfast.job.id": job.id, "steadfast.intake.created": created}
                )
            first = first or job
            if created:
                result.created.append(job.id)
                log.info("alert %s (%s) → job %s", alert.name, alert.fingerprint, job.id)
            else:
                result.duplicate.append(job.id)
                self._metrics.alerts_deduplicated.inc()
        if rest and first is not None:
            result.over_cap += len(rest)
            self._metrics.alerts_over_cap.inc(len(rest))
            self._list_rest(first, route, rest)

    def _thread(self, job: Job, alert: Alert, traceparent: str | None) -> list[OutboxPost]:
        """The message that opens the job's thread, then the status message in it: committed
        with the job, so a crash leaves both or neither."""
        headline = escape(self._scrub(alert.summary or alert.name))
        text = (
            f":rotating_light: *Alert firing:* {headline}\n"
            f"Investigating as job `{job.id}`; status and handoff follow in this thread."
        )
        labels = escape(self._scrub(label_line(alert.labels)))
        root = {
            "channel": job.ticket.channel,
            "text": clip(f"Alert firing: {self._scrub(alert.summary or alert.name)}", 3000),
            "blocks": [section(text[:3000]), context(clip(labels, 2000))],
        }
        root = with_traceparent(root, traceparent)
        posts = [OutboxPost(alert_root_key(job.id), "chat.postMessage", root, purpose="alert")]
        row = status_row(job)
        if row is not None:
            row = with_traceparent(row, traceparent)
            posts.append(OutboxPost(status_key(job.id), "chat.postMessage", row, purpose="status"))
        return posts

    def _list_rest(self, first: Job, route: AlertRoute, rest: list[Alert]) -> None:
        lines = [
            f":information_source: This notification had {len(rest)} more firing alert(s) on "
            f"this route than its cap of {route.max_alerts_per_group} "
            "(`alert_routes[].max_alerts_per_group`); they were not investigated:"
        ]
        for alert in rest[:MAX_LISTED]:
            lines.append(
                f"• {escape(self._scrub(alert.summary or alert.name))} "
                f"(`{alert.fingerprint}`, since {escape(alert.starts_at)})"
            )
        if len(rest) > MAX_LISTED:
            lines.append(f"… and {len(rest) - MAX_LISTED} more")
        digest = hashlib.sha256(
            "|".join(alert_job_key(a.fingerprint, a.starts_at) for a in rest).encode()
        ).hexdigest()[:12]
        payload = {
            "channel": route.channel,
            "_thread_of": alert_root_key(first.id),
            **messages.note("\n".join(lines)[:3000]),
        }
        self.store.outbox_put(
            outbox_key(first.id, "alert_overflow", digest),
            "chat.postMessage",
            payload,
            job_id=first.id,
            purpose="alert_overflow",
        )

    # --- resolved ---------------------------------------------------------------------------
    def _resolved(self, alert: Alert, result: Result) -> None:
        job = self.store.find_by_key(alert_job_key(alert.fingerprint, alert.starts_at))
        if job is None or not job.ticket.channel:
            result.resolved_unknown += 1  # never investigated (unrouted, over the cap)
            return
        at = alert.ended or "an unknown time"
        told = self.store.events(job.id, kinds=[EventKind.ALERT_RESOLVED])
        if not told:
            # an event, not a stop: a running job reads it at its next step (the model sees it)
            data = {"ends_at": at, "fingerprint": alert.fingerprint}
            self.store.human_event(job.id, EventKind.ALERT_RESOLVED, data, requeue=False)
        note = f":white_check_mark: Alertmanager reports this alert resolved at {escape(at)}."
        if not job.status.terminal:
            note += (
                f" Job `{job.id}` is *{job.status.value}*: it was told and goes on to a handoff."
            )
        payload = {
            "channel": job.ticket.channel,
            "_thread_of": alert_root_key(job.id),
            **messages.note(note),
        }
        self.store.outbox_put(
            outbox_key(job.id, "alert_resolved"),
            "chat.postMessage",
            payload,
            job_id=job.id,
            purpose="alert_resolved",
        )
        result.resolved.append(job.id)


def _distinct(alerts: list[Alert]) -> list[Alert]:
    """One per alert (fingerprint + startsAt): a group never lists one twice, but a body that
    does must not start two investigations."""
    seen: dict[str, Alert] = {}
    for alert in alerts:
        seen.setdefault(alert.fingerprint + alert.starts_at, alert)
    return list(seen.values())
