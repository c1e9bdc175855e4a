"""The outbox rows of a page. Keys are stable per job, target and action (and the run or the
failure that caused them), so a job resumed after a crash, or a bot rescanning a failure,
writes the same rows again and the outbox keeps the first: a page is queued once.

    {job}:page:{service}:{key name}:trigger{run}                  an escalation (run "" or "@N")
    {job}:page:{service}:{key name}:trigger:failed:{finished at}  a failure
    {job}:page:{service}:{key name}:resolve{run}                  a retried run that succeeded

`dedup_key` (PagerDuty) and `alias` (Opsgenie) are the job id: every page of one job lands on
one alert, and a resolve closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model import Job, OutboxPost, outbox_key
from integrations.paging import Page
from policy.document import PageTarget, Route

TRIGGER = "page.trigger"
RESOLVE = "page.resolve"
METHODS = (TRIGGER, RESOLVE)
SOURCE = "steadfast"


def is_page(method: str) -> bool:
    return method in METHODS


def trigger_prefix(job_id: str, target: PageTarget | Page) -> str:
    """Every trigger row of one job to one target starts with this."""
    service = target.service
    name = target.key if isinstance(target, PageTarget) else target.key_name
    return outbox_key(job_id, "page", service, name, "trigger")


@dataclass(frozen=True)
class PageText:
    """What a page says: a one-line summary and the details on-call reads first."""

    summary: str
    details: dict[str, Any]
    links: list[dict[str, Any]]  # `_links` directives: Slack permalinks filled when sent


def _row(key: str, method: str, page: Page, links: list[dict[str, Any]]) -> OutboxPost:
    payload: dict[str, Any] = page.to_dict()
    if links:
        payload["_links"] = links
    return OutboxPost(key=key, method=method, payload=payload, purpose="page")


def trigger_rows(
    job: Job, route: Route, text: PageText, *, qualifier: str = ""
) -> list[OutboxPost]:
    """One trigger row per pager the route names. `qualifier`: the run tag ("@N") of an
    escalation, or ":failed:<finished at>" for a failure."""
    rows = []
    for target in route.pages:
        page = Page(
            service=target.service,
            key_name=target.key,
            action="trigger",
            dedup_key=job.id,
            event={
                "payload": {
                    "summary": text.summary,
                    "source": SOURCE,
                    "severity": target.severity,
                    "component": job.ticket.tenant or "unknown tenant",
                    "custom_details": text.details,
                },
                "client": "Steadfast",
            },
        )
        rows.append(_row(trigger_prefix(job.id, target) + qualifier, TRIGGER, page, text.links))
    return rows


def resolve_rows(job: Job, route: Route, run: str) -> list[OutboxPost]:
    """One resolve row per pager the route names; the sender sends it only if that pager was
    triggered for this job (and after every trigger row is final)."""
    rows = []
    for target in route.pages:
        page = Page(service=target.service, key_name=target.key, action="resolve", dedup_key=job.id)
        key = outbox_key(job.id, "page", target.service, target.key, "resolve" + run)
        rows.append(_row(key, RESOLVE, page, []))
    return rows


def ticket_line(job: Job, limit: int = 160) -> str:
    text = " ".join(job.ticket.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escalation_text(
    job: Job,
    *,
    summary: str,
    tenant: str | None,
    details: dict[str, Any],
    ticket: tuple[str, str] | None,
    oncall_key: str | None,
    headline: str = "Escalated",
) -> PageText:
    """The page for an escalation or a failure: the ticket in one line, the handoff (or the
    error) in the details, links to the Slack threads once they exist."""
    where = f" [{tenant}]" if tenant else ""
    links: list[dict[str, Any]] = []
    if ticket is not None:
        links.append({"text": "Ticket thread", "channel": ticket[0], "ts": ticket[1]})
    if oncall_key is not None:
        links.append({"text": "On-call thread", "of": oncall_key})
    return PageText(
        summary=f"{headline}{where}: {ticket_line(job)}",
        details={
            "job_id": job.id,
            "tenant": tenant or "",
            "summary": summary,
            **details,
            "replay": f"steadfast replay {job.id}",
        },
        links=links,
    )
