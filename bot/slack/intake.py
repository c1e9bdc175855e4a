"""The front door: Slack messages in, jobs and human events out. No Slack calls here: replies
are outbox rows (sent by the dispatcher), so a crash after `submit` loses nothing and a
redelivered event writes nothing twice.

- a mention in a channel → a ticket job (idempotent on team + channel + ts), 👀, status message
- a mention in the thread of a finished job → a follow-up job with `parent_job_id`
- a mention or reply in the thread of a `waiting_human` job → its answer, and it resumes
- empty, oversized, bot-authored mentions → a clear reply, or ignored
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.handoff.render_slack import escape
from bot.model import MAX_TICKET_CHARS, EventKind, Job, JobStatus, OutboxPost, Ticket, outbox_key
from bot.slack import messages
from bot.slack.notifier import status_key, status_row
from bot.store.store import Store
from bot.waits import open_wait
from policy.source import PolicySource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the front door did with a message (for logs and tests)."""

    action: str  # created | duplicate | follow_up | answered | busy | empty | too_long | ignored | unmapped
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
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self._policy = policy
        self.bot_user_id = bot_user_id
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
        ticket = Ticket(
            text=text,
            team=team,
            channel=channel,
            ts=ts,
            thread_ts=root,
            user=str(event.get("user")),
            tenant=tenant,
            parent_job_id=parent,
        )
        job, created = self.store.submit(
            ticket,
            key=mention_key(team, channel, ts),
            posts=lambda job: self._acknowledgements(job, channel, ts),
        )
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
        if not jobs or not self._asks(jobs[0]):
            return Outcome("ignored")  # approvals come from operators' buttons, not replies
        return self._answer(jobs[0], event, text.strip())

    # --- helpers --------------------------------------------------------------------------
    def _asks(self, job: Job) -> bool:
        """Whether the job waits for an answer to a question (not for an approval)."""
        if job.status != JobStatus.WAITING_HUMAN:
            return False
        return open_wait(self.store.events(job.id), "question") is not None

    def _answer(self, job: Job, event: dict[str, Any], text: str) -> Outcome:
        ts = str(event.get("ts"))
        # Slack redelivers events; the message ts makes the answer idempotent
        for previous in self.store.events(job.id, kinds=[EventKind.HUMAN_ANSWER]):
            if previous.data.get("ts") == ts:
                return Outcome("duplicate", job.id)
        self.store.human_event(
            job.id,
            EventKind.HUMAN_ANSWER,
            {"by": event.get("user"), "text": text, "ts": ts, "source": "thread"},
            requeue=True,
        )
        return Outcome("answered", job.id)

    def _acknowledgements(self, job: Job, channel: str, ts: str) -> list[OutboxPost]:
        """The :eyes: on the mention and the status message, committed with the job."""
        eyes = {"channel": channel, "timestamp": ts, "name": "eyes"}
        posts = [OutboxPost(outbox_key(job.id, "eyes"), "reactions.add", eyes, purpose="eyes")]
        row = status_row(job)
        if row is not None:
            posts.append(OutboxPost(status_key(job.id), "chat.postMessage", row, purpose="status"))
        return posts

    def _reply(self, key: str, channel: str, thread: str, text: str) -> None:
        payload = {"channel": channel, "thread_ts": thread, **messages.note(text)}
        self.store.outbox_put(f"reply:{key}", "chat.postMessage", payload, purpose="reply")
        self._on_outbox()
