"""What the demo shows at the end: the handoff as Slack received it, a replay summary, and one
JSON object for machines."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot.cost import Cost, PriceTable
from bot.demo.stack import Stack
from bot.model import EventKind
from bot.store import Store
from bot.tracing import trace_id_of
from bot.tracing.carry import ticket_traceparent


@dataclass
class DemoReport:
    job_id: str
    database_url: str
    status: str
    verdict: str | None
    resumed: bool
    # leases lost: the planned SIGKILL, plus any a starved worker lost on a very busy machine
    interrupted: int
    crashed_at_step: int | None
    model_requests: int
    model_requests_repeated: int
    tool_calls: int
    tool_calls_repeated: int
    blocked: int
    retries: int
    degraded: list[str]
    steps: int
    handoff_posted: bool
    skipped_on_resume: dict[str, int] = field(default_factory=dict)
    slack: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # run_command calls the runner executed: command, is_error and what the model read
    commands: list[dict[str, Any]] = field(default_factory=list)
    handoff: dict[str, Any] | None = None  # HANDOFF_KEYS of the job's last handoff
    cost: Cost = field(default_factory=Cost)  # the model calls, priced by the default table
    trace_id: str | None = None  # the job's trace, from the Slack mention to the handoff
    console_url: str | None = None  # the job's page in the trace console (signed link)
    console_jobs_url: str | None = None  # the tenant's job list there (a tenant link)
    # pages the outbox sender delivered: service, action, dedup_key, outcome, the pager's alert
    pages: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "database_url": self.database_url,
            "status": self.status,
            "verdict": self.verdict,
            "resumed": self.resumed,
            "interrupted": self.interrupted,
            "crashed_at_step": self.crashed_at_step,
            "model_requests": self.model_requests,
            "model_requests_repeated": self.model_requests_repeated,
            "tool_calls": self.tool_calls,
            "tool_calls_repeated": self.tool_calls_repeated,
            "blocked": self.blocked,
            "retries": self.retries,
            "degraded": self.degraded,
            "steps": self.steps,
            "skipped_on_resume": self.skipped_on_resume,
            "slack": self.slack,
            "commands": self.commands,
            "handoff": self.handoff,
            "cost": self.cost.as_dict(),
            "trace_id": self.trace_id,
            "console_url": self.console_url,
            "console_jobs_url": self.console_jobs_url,
            "pages": self.pages,
        }


# What `--json` shows of the handoff: confirmed facts with the calls they were read from.
HANDOFF_KEYS = (
    "verdict",
    "model_verdict",
    "verdict_reason",
    "summary",
    "confirmed",
    "not_verified",
    "could_not_reach",
    "assumptions",
    "recommended_actions",
    "score",
)


def _message(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("ts", "thread_ts", "user", "text", "blocks") if m.get(k)}


def build_report(
    store: Store,
    stack: Stack,
    job_id: str,
    *,
    database_url: str,
    crashed_at: int | None,
    ticket_channel: str,
    oncall_channel: str,
) -> DemoReport:
    job = store.get(job_id)
    events = store.events(job_id)
    kinds = Counter(e.kind for e in events)
    calls = Counter(
        (e.data.get("tool_use_id") or e.data.get("id")) for e in events if e.kind == "tool_call"
    )
    degraded = sorted({str(e.data.get("dependency")) for e in events if e.kind == "degraded"})
    model = stack.anthropic.job_state(job_id)
    skipped: dict[str, int] = {}
    if crashed_at is not None:
        resumed_at = next((e.seq for e in events if e.kind == EventKind.RESUMED), None)
        if resumed_at is not None:
            before = [e for e in events if e.seq < resumed_at]
            skipped = {
                "model_responses": sum(1 for e in before if e.kind == "model_response"),
                "tool_results": sum(1 for e in before if e.kind == "tool_result"),
            }
    results = {e.data.get("tool_use_id"): e.data for e in events if e.kind == "tool_result"}
    commands = [
        {
            "command": (e.data.get("input") or {}).get("command"),
            "is_error": bool(results[e.data.get("tool_use_id")].get("is_error")),
            "output": results[e.data.get("tool_use_id")].get("content"),
        }
        for e in events
        if e.kind == "tool_call"
        and e.data.get("name") == "run_command"
        and e.data.get("tool_use_id") in results
    ]
    ticket_ts = job.ticket.thread_ts or job.ticket.ts or ""  # an alert's thread: the bot's post
    ticket_thread = [_message(m) for m in stack.slack.messages(ticket_channel, ticket_ts)]
    oncall = stack.slack.messages(oncall_channel)
    oncall_thread: list[dict[str, Any]] = []
    for top in oncall:
        oncall_thread.extend(_message(m) for m in stack.slack.messages(oncall_channel, top["ts"]))
    handoffs = [e for e in events if e.kind == EventKind.HANDOFF]
    handoff = {k: handoffs[-1].data.get(k) for k in HANDOFF_KEYS} if handoffs else None
    return DemoReport(
        job_id=job_id,
        database_url=database_url,
        status=job.status.value,
        verdict=job.verdict,
        resumed=kinds[EventKind.RESUMED] > 0,
        interrupted=kinds["interrupted"],
        crashed_at_step=crashed_at,
        model_requests=int(model.get("requests", 0)),
        model_requests_repeated=int(model.get("repeated", 0)),
        tool_calls=kinds["tool_call"],
        tool_calls_repeated=sum(n - 1 for n in calls.values() if n > 1),
        blocked=kinds["tool_blocked"],
        retries=kinds["retry"],
        degraded=degraded,
        steps=kinds["model_response"],
        handoff_posted=any("Confirmed" in (m.get("text") or "") for m in ticket_thread)
        or kinds["handoff"] > 0,
        skipped_on_resume=skipped,
        slack={"ticket_thread": ticket_thread, "oncall_thread": oncall_thread},
        commands=commands,
        handoff=handoff,
        cost=PriceTable().of_events(events, default_model=""),
        trace_id=trace_id_of(ticket_traceparent(events)),
        pages=_pages(stack, events),
    )


def _pages(stack: Stack, events: list[Any]) -> list[dict[str, Any]]:
    """What the job's `paged` events say was sent, with the emulated PagerDuty's alert."""
    alerts = {
        str(a["dedup_key"]): a
        for a in (stack.pagerduty.state()["incidents"] if stack.pagerduty else [])
    }
    pages = []
    for e in events:
        if e.kind != EventKind.PAGED:
            continue
        alert = (
            alerts.get(str(e.data.get("dedup_key")))
            if e.data.get("service") == "pagerduty"
            else None
        )
        pages.append(
            {
                **{
                    k: e.data.get(k)
                    for k in ("service", "target", "action", "dedup_key", "outcome")
                },
                "alert": None
                if alert is None
                else {"number": alert["number"], "status": alert["status"]},
            }
        )
    return pages


_PAGER_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}


def page_lines(report: DemoReport) -> list[str]:
    lines = []
    for page in report.pages:
        name = _PAGER_NAMES.get(str(page.get("service")), str(page.get("service")))
        verb = "Paged" if page.get("action") == "trigger" else "Resolved"
        alert = page.get("alert")
        where = f" (alert #{alert['number']}, {alert['status']})" if alert else ""
        if page.get("outcome") == "sent":
            lines.append(f"{verb} {name}: dedup_key {page.get('dedup_key')}{where}")
        else:
            lines.append(f"{name} {page.get('action')} not delivered: {page.get('outcome')}")
    return lines


def blocks_text(message: dict[str, Any]) -> str:
    """A Block Kit message as a terminal reader would want it: every header, section and
    context in order, buttons as [labels]; the `text` fallback when there are no blocks."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"[bold]{escape(block['text']['text'])}[/bold]")
        elif kind == "section" and block.get("text"):
            lines.append(escape(str(block["text"]["text"])))
        elif kind == "context":
            lines.append(
                " ".join(f"[dim]{escape(e.get('text', ''))}[/dim]" for e in block["elements"])
            )
        elif kind == "actions":
            lines.append(
                " ".join(
                    f"[reverse] {escape(e['text']['text'])} [/reverse]" for e in block["elements"]
                )
            )
    return "\n".join(lines) or escape(str(message.get("text", "")))


def show(report: DemoReport, console: Console) -> None:
    for command in report.commands:
        console.print(
            Panel(
                escape(str(command["output"])),
                title=f"run_command in the runner: {escape(str(command['command']))}",
                expand=True,
            )
        )
    for title, messages in (
        ("Ticket thread (as posted to Slack)", report.slack.get("ticket_thread", [])),
        ("On-call thread (as posted to Slack)", report.slack.get("oncall_thread", [])),
    ):
        body = "\n\n".join(
            f"[dim]{m.get('user') or 'bot'} · {m.get('ts')}[/dim]\n{blocks_text(m)}"
            for m in messages
        )
        console.print(Panel(body or "(nothing posted)", title=title, expand=True))
    resume = (
        f"killed after step {report.crashed_at_step}; the resumed worker skipped "
        f"{report.skipped_on_resume.get('model_responses', 0)} recorded model responses and "
        f"{report.skipped_on_resume.get('tool_results', 0)} recorded tool results"
        if report.crashed_at_step is not None
        else "no crash requested"
    )
    console.print(
        Panel(
            "\n".join(
                [
                    f"job {report.job_id}: {report.status}, verdict {report.verdict}",
                    f"steps {report.steps} · model requests {report.model_requests} "
                    f"(repeated after answer: {report.model_requests_repeated}) · "
                    f"tool calls {report.tool_calls}",
                    f"retries {report.retries} · blocked actions {report.blocked} · "
                    f"degraded: {', '.join(report.degraded) or 'none'}",
                    f"resume: {resume}",
                    *page_lines(report),
                    report.cost.line(),
                    f"replay: STEADFAST_DATABASE_URL={report.database_url} "
                    f"steadfast replay {report.job_id}",
                    f"trace: {report.trace_id or 'none (the intake did not trace the mention)'}",
                    f"console: {report.console_url or 'not started'}",
                ]
            ),
            title="Replay summary",
        )
    )
