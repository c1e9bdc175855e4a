"""Tell the thread when a job stops without a handoff.

A handoff updates the status message itself, but a job can also stop where no agent code runs:
an operator cancels or pauses it (from Slack or the CLI), the reaper gives up after its last
attempt, or the handler fails. This watcher, in the bot process, looks for jobs that reached
`failed`, `cancelled` or `paused` recently and writes outbox rows for them: an edit of the
status message, and for the two terminal states a note in the thread. Keys are derived from
the job's own timestamps, so scanning the same job again, from this bot or after a restart,
writes nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.handoff.render_slack import context, escape
from bot.handoff.verify import Evidence
from bot.model import EventKind, Job, JobStatus, OutboxPost, outbox_key
from bot.paging.rows import escalation_text, trigger_rows
from bot.slack import messages
from bot.slack.notifier import TICKET_LINK, status_key, thread_of
from bot.store.store import Store, utcnow
from policy.source import PolicySource

log = logging.getLogger(__name__)

STOPPED = (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PAUSED)
RESUMABLE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING_HUMAN)
# Rows written by other hosts carry their clocks: look back well past any plausible skew.
LOOKBACK = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(hours=24)  # after a restart, catch up on what happened meanwhile


def oncall_failed_key(job_id: str, finished_at: datetime) -> str:
    """The outbox key of the on-call page for one failure of a job."""
    return f"{job_id}:oncall:failed:{finished_at.isoformat()}"


class StoppedJobs:
    def __init__(
        self,
        store: Store,
        *,
        on_outbox: Callable[[], None],
        interval: float = 2.0,
        policy: PolicySource | None = None,
    ) -> None:
        self.store = store
        self.policy = policy  # where failures page on-call; None: nowhere (the thread only)
        self.interval = interval
        self._on_outbox = on_outbox
        self._since: datetime | None = None
        # Jobs already noticed in their current state: rescans of the lookback window skip
        # them without touching the store again.
        self._handled: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StoppedJobs:
        self._thread = threading.Thread(target=self._loop, name="slack-stopped", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the store failing must not end the thread
                log.exception("stopped-jobs pass failed; retrying")
            self._stop.wait(self.interval)

    def run_once(self, now: datetime | None = None) -> int:
        """Write the notices due; returns how many new outbox rows were written."""
        now = now or utcnow()
        since = now - (LOOKBACK if self._since is not None else FIRST_LOOKBACK)
        written = 0
        seen: set[str] = set()
        for job in self.store.jobs_changed_since(since, STOPPED):
            key = outbox_key(job.id, "stopped", job.status.value, job.updated_at.isoformat())
            seen.add(key)
            if key not in self._handled:
                written += self._notice(job, key)
        for job in self.store.jobs_changed_since(since, RESUMABLE):
            key = f"{job.id}:resumed:{job.updated_at.isoformat()}"
            seen.add(key)
            if key not in self._handled:
                written += self._resumed(job)
        self._since = now
        self._handled = seen  # what left the window cannot come back into it
        if written:
            self._on_outbox()
        return written

    def _notice(self, job: Job, key: str) -> int:
        written = self._page_oncall(job) if job.status == JobStatus.FAILED else 0
        where = thread_of(job)
        if where is None or self.store.outbox_get(status_key(job.id)) is None:
            return written  # no thread, or no status message to edit
        channel, thread = where
        headline, note = self._describe(job)
        finished = job.status != JobStatus.PAUSED
        update = {
            "channel": channel,
            **messages.stopped_status_message(job.id, headline, finished=finished),
            "_update_of": status_key(job.id),
            "_coalesce": status_key(job.id),
        }
        written += int(
            self.store.outbox_put(
                key,
                "chat.update",
                update,
                job_id=job.id,
                purpose="stopped",
            )
        )
        if note and job.finished_at is not None:
            payload = {"channel": channel, "thread_ts": thread, **messages.note(note)}
            written += self.store.outbox_put(
                outbox_key(job.id, "ended", job.finished_at.isoformat()),
                "chat.postMessage",
                payload,
                job_id=job.id,
                purpose="ended",
            )
        return written

    def _resumed(self, job: Job) -> int:
        """A resumed job's status message stops saying "Paused": once per resume (keyed on
        the operator action), put back the running status with who resumed it."""
        if job.event_count < 2:
            return 0  # only its ticket so far (a new mention): no operator action to read
        actions = self.store.events(job.id, kinds=[EventKind.OPERATOR_ACTION])
        last = actions[-1] if actions else None
        if last is None or last.data.get("action") != "resume" or last.data.get("from") != "paused":
            return 0
        where = thread_of(job)
        if where is None or self.store.outbox_get(status_key(job.id)) is None:
            return 0
        message = messages.status_message(job.id)
        by = str(last.data.get("by") or "an operator")
        message["blocks"].insert(1, context(f"Resumed by {escape(by)}"))
        update = {
            "channel": where[0],
            **message,
            "_update_of": status_key(job.id),
            "_coalesce": status_key(job.id),
        }
        return int(
            self.store.outbox_put(
                f"{job.id}:resumed:{last.seq}",
                "chat.update",
                update,
                job_id=job.id,
                purpose="resumed",
            )
        )

    def _page_oncall(self, job: Job) -> int:
        """A failed job produced no handoff, so no escalation: tell on-call here, with what
        the job read and what an operator can do. One row per failure (keyed on its finish
        time), however often this or a restarted bot scans it."""
        if self.policy is None or job.finished_at is None:
            return 0
        route = self.policy.current().escalation.route_for(job.ticket.tenant)
        if route is None:
            return 0
        evidence = Evidence.from_events(self.store.events(job.id))
        error = job.last_error.message if job.last_error else "no error recorded"
        where = thread_of(job)
        message = messages.failed_oncall_message(
            job.id,
            error=error,
            gathered=[fact.line() for fact in evidence.gathered()],
            could_not_reach=evidence.could_not_reach(),
            usergroup=route.usergroup,
            tenant=job.ticket.tenant,
            ticket_link=TICKET_LINK if where is not None else None,
        )
        payload: dict[str, Any] = {"channel": route.channel, **message}
        if where is not None:
            payload["_permalink"] = {
                "channel": where[0],
                "ts": where[1],
                "placeholder": TICKET_LINK,
            }
        key = oncall_failed_key(job.id, job.finished_at)
        text = escalation_text(
            job,
            summary=f"Failed without a handoff: {error}",
            tenant=job.ticket.tenant,
            details={
                "error": error,
                "could_not_reach": "; ".join(evidence.could_not_reach()),
                "retry": f"steadfast retry {job.id}",
            },
            ticket=where,
            oncall_key=key,
            headline="Failed",
        )
        pages = trigger_rows(job, route, text, qualifier=f":failed:{job.finished_at.isoformat()}")
        # the Slack page and the pagers' pages commit together: all of them or none
        return self.store.outbox_put_all(
            [OutboxPost(key, "chat.postMessage", payload, "oncall_failed"), *pages],
            job_id=job.id,
        )

    def _describe(self, job: Job) -> tuple[str, str | None]:
        """(status headline, thread note or None) in words the asker can act on."""
        actions = self.store.events(job.id, kinds=[EventKind.OPERATOR_ACTION])
        last = actions[-1].data if actions else {}
        by = str(last.get("by") or "")
        who = f"<@{by}>" if by.startswith(("U", "W")) and by.isalnum() else escape(by)
        why = f": {escape(str(last['reason']))}" if last.get("reason") else ""
        if job.status == JobStatus.PAUSED:
            return f":double_vertical_bar: Paused by {who or 'an operator'}{why}", None
        if job.status == JobStatus.CANCELLED:
            return (
                f":no_entry_sign: Cancelled by {who or 'an operator'}{why}",
                f"Job `{job.id}` was cancelled by {who or 'an operator'}{why}. No handoff was "
                "produced; mention me again to start a new investigation.",
            )
        error = escape(job.last_error.message) if job.last_error else "no error recorded"
        return (
            f":x: Failed: {error}",
            f"Job `{job.id}` failed and produced no handoff: {error}. An operator can retry it "
            f"(`steadfast retry {job.id}` or the Retry button) or read its log "
            f"(`steadfast show {job.id}`).",
        )
