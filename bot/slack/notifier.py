"""`SlackNotifier`: how a running job talks to its Slack thread. Every call becomes fenced outbox
rows through `ctx.outbox`; the dispatcher (outbox.py) sends them. Nothing here calls Slack.

Keys are stable per job and content, so a job resumed after a crash writes the same rows again
and the outbox ignores them: nothing is posted twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.alerts.keys import alert_root_key, is_alert_job
from bot.handler import JobContext
from bot.handoff.model import Handoff
from bot.handoff.render_slack import escape, render_escalation, render_handoff
from bot.model import Job, outbox_key
from bot.notify import Progress
from bot.paging.rows import escalation_text, resolve_rows, trigger_rows
from bot.slack import messages
from policy.document import Route
from policy.source import PolicySource

TICKET_LINK = "@@STEADFAST_TICKET_LINK@@"
ESCALATION_LINK = "@@STEADFAST_ESCALATION_LINK@@"
# The console link is signed by the bot when it sends (it holds the console secret; workers do
# not), or dropped when the bot has no console: see `_console_link` in outbox.py.
CONSOLE_LINK = "@@STEADFAST_CONSOLE_LINK@@"


def console_link_directive(job: Job, tenant: str | None) -> dict[str, Any]:
    return {"job": job.id, "tenant": tenant, "placeholder": CONSOLE_LINK}


def status_key(job_id: str) -> str:
    return outbox_key(job_id, "status")


def thread_of(job: Job) -> tuple[str, str] | None:
    """(channel, thread root ts) of a job's ticket, or None for jobs not from Slack."""
    t = job.ticket
    if not t.channel or not (t.thread_ts or t.ts):
        return None
    return t.channel, str(t.thread_ts or t.ts)


def placement(job: Job) -> tuple[str, dict[str, Any]] | None:
    """(channel, the payload fields that put a post in the job's thread). A job started by an
    alert has no Slack message of its own: its thread is the message the bot opened for it,
    whose ts only the outbox knows, so posts name that row (`_thread_of`) until the job's
    ticket records the ts."""
    where = thread_of(job)
    if where is not None:
        return where[0], {"thread_ts": where[1]}
    if job.ticket.channel and is_alert_job(job):
        return job.ticket.channel, {"_thread_of": alert_root_key(job.id)}
    return None


def ticket_link(job: Job, placeholder: str) -> dict[str, Any] | None:
    """The `_permalink` directive that links to the job's thread, if it has one."""
    where = thread_of(job)
    if where is not None:
        return {"channel": where[0], "ts": where[1], "placeholder": placeholder}
    if job.ticket.channel and is_alert_job(job):
        return {"of": alert_root_key(job.id), "placeholder": placeholder}
    return None


def status_row(job: Job) -> dict[str, Any] | None:
    """The status message's first post (the front door writes it when the job is created)."""
    placed = placement(job)
    if placed is None:
        return None
    channel, thread = placed
    return {"channel": channel, **thread, **messages.status_message(job.id)}


def run_tag(ctx: JobContext) -> str:
    """Empty for a job's first run, "@N" for the run its N-th operator retry started: a retried
    job's new handoff gets outbox keys of its own instead of being taken for the old one."""
    retries = sum(
        e.kind == "operator_action" and e.data.get("action") == "retry" for e in ctx.events
    )
    return f"@{retries}" if retries else ""


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


class SlackNotifier:
    """Implements `bot.notify.Notifier`. `policy` is read at each escalation (it may reload)."""

    def __init__(self, policy: PolicySource) -> None:
        self._policy = policy

    def progress(self, ctx: JobContext, progress: Progress) -> None:
        job = ctx.job
        where = placement(job)
        if where is None:
            return
        self._ensure_status(ctx)
        payload = {
            "channel": where[0],
            **messages.status_message(job.id, progress),
            "_update_of": status_key(job.id),
            "_coalesce": status_key(job.id),
        }
        ctx.outbox(f"progress:{progress.step}:{_digest(payload)}", "chat.update", payload)

    def question(self, ctx: JobContext, question: str) -> None:
        job = ctx.job
        where = placement(job)
        if where is None:
            return
        approval = bool(ctx.events) and ctx.events[-1].kind == "approval_requested"
        message = messages.question_message(
            job.id, question, user=job.ticket.user, approval=approval
        )
        payload = {"channel": where[0], **where[1], **message}
        ctx.outbox(f"question:{_digest([question, len(ctx.events)])}", "chat.postMessage", payload)

    def handoff(self, ctx: JobContext, handoff: Handoff) -> None:
        job = ctx.job
        where = placement(job)
        if handoff.verdict != "escalated" and run_tag(ctx):
            self._resolve_pages(ctx, handoff)  # a retried job succeeded: on-call can stand down
        if where is None:
            # not from Slack: no thread to answer, but an escalation still reaches on-call
            if handoff.verdict == "escalated":
                self._escalate(ctx, handoff, None, None)
            return
        channel, thread = where
        run = run_tag(ctx)
        previous: str | None = None
        link = console_link_directive(job, job.ticket.tenant)
        for i, message in enumerate(render_handoff(handoff, trace_link=CONSOLE_LINK)):
            purpose = ("handoff" if i == 0 else f"handoff:{i + 1}") + run
            payload: dict[str, Any] = {
                "channel": channel,
                **thread,
                **message,
                "_console_link": link,
            }
            if previous:
                payload["_after"] = previous
            ctx.outbox(purpose, "chat.postMessage", payload)
            previous = outbox_key(job.id, purpose)
        self._ensure_status(ctx)
        final = {
            "channel": channel,
            **messages.final_status_message(job.id, handoff.verdict),
            "_update_of": status_key(job.id),
            "_coalesce": status_key(job.id),
        }
        ctx.outbox("progress:final" + run, "chat.update", final)
        if handoff.verdict == "escalated":
            self._escalate(ctx, handoff, channel, thread, run)

    def _ensure_status(self, ctx: JobContext) -> None:
        row = status_row(ctx.job)
        if row is not None:
            ctx.outbox("status", "chat.postMessage", row)  # a no-op when the bot wrote it

    def _escalate(
        self,
        ctx: JobContext,
        handoff: Handoff,
        channel: str | None,
        thread: dict[str, Any] | None,
        run: str = "",
    ) -> None:
        job = ctx.job
        tenant = handoff.tenant or job.ticket.tenant
        route = self._policy.current().escalation.route_for(tenant)
        if route is None:
            if channel is not None:
                self._no_route(ctx, channel, thread, run)
            return
        if channel is None or thread is None:
            self._post_escalation(ctx, handoff, route, tenant, None, run)
            self._page(ctx, handoff, route, tenant, None, run)
            return
        self._post_escalation(ctx, handoff, route, tenant, ticket_link(job, TICKET_LINK), run)
        # after the on-call thread's rows: sent in the same pass, its link is in the page
        self._page(ctx, handoff, route, tenant, thread_of(job), run)
        first = outbox_key(job.id, "escalation" + run)
        text = (
            f":rotating_light: Escalated to on-call in <#{escape(route.channel)}>: "
            f"<{ESCALATION_LINK}|on-call thread>"
        )
        ctx.outbox(
            "escalation_note" + run,
            "chat.postMessage",
            {
                "channel": channel,
                **thread,
                **messages.note(text),
                "_after": first,
                "_permalink": {"of": first, "placeholder": ESCALATION_LINK},
            },
        )

    def _page(
        self,
        ctx: JobContext,
        handoff: Handoff,
        route: Route,
        tenant: str | None,
        ticket: tuple[str, str] | None,
        run: str,
    ) -> None:
        """Trigger the route's pagers (bot/paging): queued before the job's status changes, so
        a worker killed in between queues the same rows again on resume (same keys)."""
        if not route.pages:
            return
        job = ctx.job
        text = escalation_text(
            job,
            summary=handoff.summary,
            tenant=tenant,
            details={
                "verdict": handoff.verdict,
                "could_not_reach": "; ".join(handoff.could_not_reach),
                "recommended_actions": "; ".join(handoff.recommended_actions),
                "escalation_score": (
                    f"{handoff.score.total:.2f}" if handoff.score is not None else ""
                ),
            },
            ticket=ticket,
            oncall_key=outbox_key(job.id, "escalation" + run),
        )
        for row in trigger_rows(job, route, text, qualifier=run):
            ctx.outbox(row.key.removeprefix(f"{job.id}:"), row.method, row.payload)

    def _resolve_pages(self, ctx: JobContext, handoff: Handoff) -> None:
        job = ctx.job
        route = self._policy.current().escalation.route_for(handoff.tenant or job.ticket.tenant)
        if route is None:
            return
        for row in resolve_rows(job, route, run_tag(ctx)):
            ctx.outbox(row.key.removeprefix(f"{job.id}:"), row.method, row.payload)

    def _no_route(
        self, ctx: JobContext, channel: str, thread: dict[str, Any] | None, run: str = ""
    ) -> None:
        note = messages.note(
            ":warning: Escalated, but the policy names no on-call channel "
            "(`escalation.routes`); please page on-call by hand."
        )
        ctx.outbox(
            "escalation_note" + run,
            "chat.postMessage",
            {"channel": channel, **(thread or {}), **note},
        )

    def _post_escalation(
        self,
        ctx: JobContext,
        handoff: Handoff,
        route: Route,
        tenant: str | None,
        link: dict[str, Any] | None,
        run: str = "",
    ) -> None:
        """The on-call thread: linked to the ticket's thread when there is one."""
        parts = render_escalation(
            handoff,
            usergroup=route.usergroup,
            ticket_link=TICKET_LINK if link is not None else None,
            tenant=tenant,
            trace_link=CONSOLE_LINK,
        )
        first = outbox_key(ctx.job.id, "escalation" + run)
        trace = console_link_directive(ctx.job, ctx.job.ticket.tenant)
        for i, message in enumerate(parts):
            payload: dict[str, Any] = {"channel": route.channel, **message, "_console_link": trace}
            if i == 0:
                if link is not None:
                    payload["_permalink"] = link
                ctx.outbox("escalation" + run, "chat.postMessage", payload)
            else:
                payload["_thread_of"] = first
                ctx.outbox(f"escalation:{i + 1}{run}", "chat.postMessage", payload)
