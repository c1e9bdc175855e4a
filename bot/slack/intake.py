"""The front door: Slack messages in, jobs and human events out. No Slack posts here: replies
are outbox rows (sent by the dispatcher), so a crash after `submit` loses nothing and a
redelivered event writes nothing twice. (`may_answer` may look up a user group's members.)

- a mention in a channel → a ticket job (idempotent on team + channel + ts), 👀, status message
- a mention in the thread of a finished job → a follow-up job with `parent_job_id`
- a mention or reply in the thread of a `waiting_human` job → its answer, and it resumes; only
  the reporter and holders of the `answer` grant may answer (others: an ephemeral note and an
  audited `operator_refused`)
- a reply in the thread of a `paused` job → kept as the answer to its open question (used on
  resume), or the sender is told it was not kept
- empty, oversized, bot-authored mentions → a clear reply, or ignored
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind

from bot.handoff.render_slack import escape
from bot.model import MAX_TICKET_CHARS, EventKind, Job, JobStatus, OutboxPost, Ticket, outbox_key
from bot.slack import messages
from bot.slack.notifier import status_key, status_row
from bot.store.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import with_traceparent
from bot.waits import open_wait
from policy.source import PolicySource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the front door did with a message (for logs and tests)."""

    # created | duplicate | follow_up | answered | kept | not_kept | refused | busy | empty
    # | too_long | ignored | unmapped
    action: str
    job_id: str | None = None


def mention_key(team: str, channel: str, ts: str) -> str:
    return f"slack:{team}:{channel}:{ts}"


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    return " ".join(text.split())


class Intake:
    def __init__(
        self,
        store: Store,
        policy: PolicySource,
        *,
        bot_user_id: str | None,
        may_answer: Callable[[str], bool],
        on_outbox: Callable[[], None] = lambda: None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self._tracing = tracing or Tracing.disabled()
        self._policy = policy
        self.bot_user_id = bot_user_id
        self._may_answer = may_answer  # the `answer` grant (the reporter needs none)
        self._on_outbox = on_outbox  # wakes the dispatcher

    # --- events ---------------------------------------------------------------------------
    def mention(self, event: dict[str, Any], *, team: str) -> Outcome:
        if event.get("bot_id") or event.get("user") in (None, self.bot_user_id):
            return Outcome("ignored")
        channel, ts = str(event["channel"]), str(event["ts"])
        thread = event.get("thread_ts")
        root = str(thread or ts)
        text = strip_mentions(str(event.get("text") or ""), self.bot_user_id)
        if thread:
            previous = self.store.find_by_thread(channel, str(thread))
            if previous:
                latest = previous[0]
                if latest.status == JobStatus.PAUSED and text:
                    return self._while_paused(latest, event, text)
                if self._asks(latest) and text:
                    return self._answer(latest, event, text)
                if not latest.status.terminal:
                    self._reply(
                        f"busy:{channel}:{ts}",
                        channel,
                        root,
                        f"I'm still on it: job `{latest.id}` is *{latest.status.value}*. "
                        "I'll post the handoff here.",
                    )
                    return Outcome("busy", latest.id)
        if not text:
            self._reply(
                f"empty:{channel}:{ts}",
                channel,
                root,
                "Tell me what's wrong: mention me with a description of the problem, e.g. "
                f"`<@{self.bot_user_id}> checkout is returning 502s since 10:00`.",
            )
            return Outcome("empty")
        if len(text) > MAX_TICKET_CHARS:
            self._reply(
                f"too_long:{channel}:{ts}",
                channel,
                root,
                f"That message is {len(text):,} characters; I take up to {MAX_TICKET_CHARS:,}. "
                "Please summarise the problem and mention me again (logs can go in the "
                "thread as a file; I can read the live systems myself).",
            )
            return Outcome("too_long")
        policy = self._policy.current()
        tenant = policy.tenant_for_channel(channel)
        if tenant is None and policy.tenants:
            self._reply(
                f"unmapped:{channel}:{ts}",
                channel,
                root,
                f"This channel (<#{escape(channel)}>) is not mapped to a tenant in the policy, "
                "so I cannot tell which systems I may look at. An admin can add it under "
                "`tenants.<name>.channels`.",
            )
            return Outcome("unmapped")
        parent = None
        if thread:
            finished = [
                j for j in self.store.find_by_thread(channel, str(thread)) if j.status.terminal
            ]
            parent = finished[0].id if finished else None
        attributes = {"steadfast.tenant": tenant, "steadfast.slack.channel": channel}
        with self._tracing.span("slack.mention", attributes, kind=SpanKind.SERVER) as span:
            ticket = Ticket(
                text=text,
                team=team,
                channel=channel,
                ts=ts,
                thread_ts=root,
                user=str(event.get("user")),
                tenant=tenant,
                parent_job_id=parent,
                traceparent=self._tracing.traceparent(),
            )
            job, created = self.store.submit(
                ticket,
                key=mention_key(team, channel, ts),
                posts=lambda job: self._acknowledgements(job, channel, ts, ticket.traceparent),
            )
            span.set_attributes({"steadfast.job.id": job.id, "steadfast.intake.created": created})
        self._on_outbox()
        if not created:
            return Outcome("duplicate", job.id)
        return Outcome("follow_up" if parent else "created", job.id)

    def thread_reply(self, event: dict[str, Any], *, team: str) -> Outcome:
        """A plain message event: only replies in a waiting job's thread matter."""
        if (
            event.get("bot_id")
            or event.get("subtype")
            or event.get("user") in (None, self.bot_user_id)
        ):
            return Outcome("ignored")
        thread = event.get("thread_ts")
        text = str(event.get("text") or "")
        if not thread or thread == event.get("ts") or not text.strip():
            return Outcome("ignored")
        if self.bot_user_id and f"<@{self.bot_user_id}>" in text:
            return Outcome("ignored")  # the app_mention event handles it
        jobs = self.store.find_by_thread(str(event["channel"]), str(thread))
        if jobs and jobs[0].status == JobStatus.PAUSED:
            return self._while_paused(jobs[0], event, text.strip())
        if not jobs or not self._asks(jobs[0]):
            return Outcome("ignored")  # approvals come from operators' buttons, not replies
        return self._answer(jobs[0], event, text.strip())

    # --- helpers --------------------------------------------------------------------------
    def _asks(self, job: Job) -> bool:
        """Whether the job waits for an answer to a question (not for an approval)."""
        if job.status != JobStatus.WAITING_HUMAN:
            return False
        return open_wait(self.store.events(job.id), "question") is not None

    def _answer(
        self, job: Job, event: dict[str, Any], text: str, *, paused: bool = False
    ) -> Outcome:
        ts = str(event.get("ts"))
        user = str(event.get("user"))
        # Slack redelivers events; the message ts makes the answer (or refusal) idempotent
        for previous in self.store.events(
            job.id, kinds=[EventKind.HUMAN_ANSWER, EventKind.OPERATOR_REFUSED]
        ):
            if previous.data.get("ts") == ts:
                return Outcome("duplicate", job.id)
        if user != job.ticket.user and not self._may_answer(user):
            return self._refuse_answer(job, event, user, ts)
        data = {"by": event.get("user"), "text": text, "ts": ts, "source": "thread"}
        if paused:
            data["while_paused"] = True
        self.store.human_event(job.id, EventKind.HUMAN_ANSWER, data, requeue=not paused)
        return Outcome("kept" if paused else "answered", job.id)

    def _while_paused(self, job: Job, event: dict[str, Any], text: str) -> Outcome:
        """A reply in the thread of a paused job is never dropped silently: an answer to its
        open question is kept (the agent reads it when an operator resumes the job); anything
        else is refused and the sender is told so."""
        channel, ts = str(event["channel"]), str(event.get("ts"))
        root = str(event.get("thread_ts") or ts)
        if open_wait(self.store.events(job.id), "question") is not None:
            outcome = self._answer(job, event, text, paused=True)
            if outcome.action == "kept":
                self._reply(
                    f"kept:{channel}:{ts}",
                    channel,
                    root,
                    f"Job `{job.id}` is paused. I kept your answer; it will be used when an "
                    "operator resumes the job.",
                )
            return outcome
        self._reply(
            f"not_kept:{channel}:{ts}",
            channel,
            root,
            f"Job `{job.id}` is paused and is not waiting for an answer, so this message was "
            "not added to the investigation. Mention me again after an operator resumes it.",
        )
        return Outcome("not_kept", job.id)

    def _refuse_answer(self, job: Job, event: dict[str, Any], user: str, ts: str) -> Outcome:
        """Anyone in the channel can reply in the thread; only the reporter and operators with
        the `answer` grant speak for the ticket, as `/steadfast answer` already requires."""
        log.warning("refused an answer to %s from %s", job.id, user)
        self.store.human_event(
            job.id,
            EventKind.OPERATOR_REFUSED,
            {"by": user, "action": "answer", "source": "thread", "ts": ts},
            requeue=False,
        )
        channel = str(event.get("channel"))
        payload = {
            "channel": channel,
            "user": user,
            "thread_ts": str(event.get("thread_ts") or ts),
            "text": ":no_entry: Only the person who asked and operators with the `answer` "
            "grant can answer Steadfast's question; your reply was not passed on.",
        }
        self.store.outbox_put(
            f"refused:{channel}:{ts}", "chat.postEphemeral", payload, purpose="reply"
        )
        self._on_outbox()
        return Outcome("refused", job.id)

    def _acknowledgements(
        self, job: Job, channel: str, ts: str, traceparent: str | None = None
    ) -> list[OutboxPost]:
        """The :eyes: on the mention and the status message, committed with the job (their
        `outbox.send` spans join the intake's trace)."""
        eyes = with_traceparent({"channel": channel, "timestamp": ts, "name": "eyes"}, traceparent)
        posts = [OutboxPost(outbox_key(job.id, "eyes"), "reactions.add", eyes, purpose="eyes")]
        row = status_row(job)
        if row is not None:
            row = with_traceparent(row, traceparent)
            posts.append(OutboxPost(status_key(job.id), "chat.postMessage", row, purpose="status"))
        return posts

    def _reply(self, key: str, channel: str, thread: str, text: str) -> None:
        payload = {"channel": channel, "thread_ts": thread, **messages.note(text)}
        self.store.outbox_put(f"reply:{key}", "chat.postMessage", payload, purpose="reply")
        self._on_outbox()
