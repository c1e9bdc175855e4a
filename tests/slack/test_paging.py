"""Escalation routes that page: the real bot (outbox sender), a worker reporting through the real
`SlackNotifier`, and the PagerDuty and Opsgenie emulators over HTTP. A page goes out once per
escalation or failure, keyed on the job, and a retried job that succeeds resolves it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.handler import HandlerResult, JobContext
from bot.handoff.model import Handoff
from bot.model import EventKind, JobStatus, OperatorAction, OutboxState
from bot.settings import Settings
from bot.slack.app import SlackBot
from bot.slack.notifier import SlackNotifier, run_tag
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.worker.worker import Worker
from emulators.opsgenie import OpsgenieEmulator
from emulators.pagerduty import PagerDutyEmulator
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from policy.document import Escalation, PageTarget, Policy, Route
from policy.source import FixedPolicy
from tests.paging.conftest import OG_KEY, PD_KEY
from tests.slack.conftest import ASKER, ONCALL, PAY, SECRET, TEAM, make_policy, until


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyEmulator]:
    with PagerDutyEmulator({"pagerduty": {"routing_keys": [PD_KEY]}}) as emulator:
        yield emulator


@pytest.fixture
def opsgenie() -> Iterator[OpsgenieEmulator]:
    with OpsgenieEmulator({"opsgenie": {"api_keys": [OG_KEY]}}) as emulator:
        yield emulator


@pytest.fixture
def policy() -> Policy:
    pages = [
        PageTarget(service="pagerduty", key="payments-pd"),
        PageTarget(service="opsgenie", key="payments-og", severity="error"),
    ]
    route = Route(channel=ONCALL, usergroup="S0ONCALL", pages=pages)
    return make_policy().model_copy(update={"escalation": Escalation(routes=[route])})


@pytest.fixture
def settings(
    slack: SlackEmulator,
    database_url: str,
    pagerduty: PagerDutyEmulator,
    opsgenie: OpsgenieEmulator,
) -> Settings:
    return Settings(
        database_url=database_url,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        paging_keys={"payments-pd": SecretStr(PD_KEY), "payments-og": SecretStr(OG_KEY)},
        pagerduty_url=pagerduty.url,
        opsgenie_url=opsgenie.url,
    )


class EscalateThenResolve:
    """Escalates on its first run; a run started by an operator's retry resolves."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self.notifier = notifier

    def run(self, ctx: JobContext) -> HandlerResult:
        retried = bool(run_tag(ctx))
        if "fail" in ctx.job.ticket.text and not retried:
            return HandlerResult(JobStatus.FAILED, error_kind="model_auth", error_message="refused")
        verdict = "resolved" if retried else "escalated"
        handoff = Handoff(
            job_id=ctx.job.id,
            verdict=verdict,
            summary="checkout pods crash-loop on a missing secret",
            could_not_reach=["vault: timeout"],
            recommended_actions=["restore the secret"],
            tenant=ctx.job.ticket.tenant,
        )
        ctx.append(EventKind.HANDOFF, handoff.model_dump())
        self.notifier.handoff(ctx, handoff)
        status = JobStatus.SUCCEEDED if retried else JobStatus.ESCALATED
        return HandlerResult(status, verdict=verdict)


@pytest.fixture
def worker(store: Store, policy: Policy) -> Iterator[Worker]:
    handler = EscalateThenResolve(SlackNotifier(FixedPolicy(policy)))
    w = Worker(store, handler, name="test-worker", concurrency=2, lease_ttl=5, poll=0.05)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    yield w
    w.stop()
    thread.join(10)


def _mention(slack: SlackEmulator, store: Store, http_bot: HttpBot, text: str) -> str:
    message = slack.user_message(PAY, ASKER, f"<@U0BOT> {text}")
    assert send_event(http_bot.url, SECRET, slack.mention_event(message)).status_code == 200
    job = store.find_by_key(f"slack:{TEAM}:{PAY}:{message['ts']}")
    assert job is not None
    return job.id


def _paged(store: Store, job_id: str) -> list[dict[str, Any]]:
    return [e.data for e in store.events(job_id, kinds=[EventKind.PAGED])]


def _status(store: Store, job_id: str) -> JobStatus:
    return store.get(job_id).status


def test_an_escalation_pages_pagerduty_and_opsgenie_once_and_a_retried_success_resolves(
    slack: SlackEmulator,
    store: Store,
    bot: SlackBot,
    http_bot: HttpBot,
    worker: Worker,
    pagerduty: PagerDutyEmulator,
    opsgenie: OpsgenieEmulator,
) -> None:
    job_id = _mention(slack, store, http_bot, "checkout returns 502")
    until(lambda: len(_paged(store, job_id)) == 2, timeout=30)
    [incident] = pagerduty.state()["incidents"]
    assert incident["dedup_key"] == job_id and incident["status"] == "triggered"
    details = incident["custom_details"]
    assert details["summary"] == "checkout pods crash-loop on a missing secret"
    assert details["could_not_reach"] == "vault: timeout"
    assert details["replay"] == f"steadfast replay {job_id}"
    # the on-call thread was posted first in the same pass: its permalink is in the page
    assert "On-call thread" in details and "Ticket thread" in details
    [trigger] = [e for e in pagerduty.state()["events"] if e["event_action"] == "trigger"]
    assert trigger["payload"]["summary"] == "Escalated [payments]: checkout returns 502"
    [alert] = opsgenie.state()["alerts"]
    assert (alert["alias"], alert["priority"], alert["status"]) == (job_id, "P2", "open")

    store.operator(job_id, OperatorAction.RETRY, by="U0OP", reason="secret restored")
    until(lambda: _status(store, job_id) == JobStatus.SUCCEEDED, timeout=30)
    until(lambda: len(_paged(store, job_id)) == 4, timeout=30)
    assert pagerduty.state()["incidents"][0]["status"] == "resolved"
    assert opsgenie.state()["alerts"][0]["status"] == "closed"
    assert [(p["service"], p["action"], p["outcome"]) for p in _paged(store, job_id)] == [
        ("pagerduty", "trigger", "sent"),
        ("opsgenie", "trigger", "sent"),
        ("pagerduty", "resolve", "sent"),
        ("opsgenie", "resolve", "sent"),
    ]
    assert len(pagerduty.state()["incidents"]) == 1 and len(opsgenie.state()["alerts"]) == 1
    # the keys live in the settings only: not in the outbox, not in the job's log
    everything = repr(store.outbox_with_prefix(job_id)) + repr(store.events(job_id))
    assert PD_KEY not in everything and OG_KEY not in everything


def test_a_failed_job_pages_with_its_slack_on_call_message_and_resolves_after_a_retry(
    slack: SlackEmulator,
    store: Store,
    bot: SlackBot,
    http_bot: HttpBot,
    worker: Worker,
    pagerduty: PagerDutyEmulator,
) -> None:
    bot.stopped.interval = 0.05
    job_id = _mention(slack, store, http_bot, "fail: checkout returns 502")
    until(lambda: _status(store, job_id) == JobStatus.FAILED, timeout=30)
    until(lambda: len(_paged(store, job_id)) == 2, timeout=30)
    [incident] = pagerduty.state()["incidents"]
    assert incident["dedup_key"] == job_id
    assert incident["summary"] == "Failed [payments]: fail: checkout returns 502"
    assert incident["custom_details"]["error"] == "refused"
    assert any("failed" in m["text"] for m in slack.messages(ONCALL))
    for _ in range(3):  # rescans write nothing new
        assert bot.stopped.run_once() == 0
    store.operator(job_id, OperatorAction.RETRY, by="U0OP", reason="key rotated")
    until(lambda: pagerduty.state()["incidents"][0]["status"] == "resolved", timeout=30)
    assert len(pagerduty.state()["incidents"]) == 1


def test_a_refused_page_is_failed_reported_and_not_retried(
    store: Store, bot: SlackBot, pagerduty: PagerDutyEmulator
) -> None:
    job, _ = store.submit(_ticket())
    page = {
        "service": "pagerduty",
        "key_name": "payments-pd",
        "action": "trigger",
        "dedup_key": job.id,
        "event": {"payload": {"summary": "", "source": "steadfast", "severity": "critical"}},
    }
    key = f"{job.id}:page:pagerduty:payments-pd:trigger"
    store.outbox_put(key, "page.trigger", page, job_id=job.id, purpose="page")
    # the row is marked failed, then the job's log records the refusal: wait for both
    until(
        lambda: (
            (row := store.outbox_get(key)) is not None
            and row.state == OutboxState.FAILED
            and _paged(store, job.id)
        )
    )
    row = store.outbox_get(key)
    assert row is not None and "invalid event" in (row.last_error or "")
    [event] = _paged(store, job.id)
    assert event["outcome"] == "refused" and "payload.summary" in event["error"]
    for _ in range(3):
        bot.dispatcher.run_once()
    assert len(pagerduty.requests) == 1


def test_a_rate_limited_page_is_delayed_by_retry_after_never_dropped(
    store: Store, bot: SlackBot, pagerduty: PagerDutyEmulator
) -> None:
    job, _ = store.submit(_ticket())
    pagerduty.faults.set("429", retry_after=2)
    page = {
        "service": "pagerduty",
        "key_name": "payments-pd",
        "action": "trigger",
        "dedup_key": job.id,
        "event": {"payload": {"summary": "x", "source": "steadfast", "severity": "critical"}},
    }
    key = f"{job.id}:page:pagerduty:payments-pd:trigger"
    store.outbox_put(key, "page.trigger", page, job_id=job.id, purpose="page")
    until(lambda: (row := store.outbox_get(key)) is not None and row.not_before is not None)
    row = store.outbox_get(key)
    assert row is not None and row.state == OutboxState.PENDING and "429" in (row.last_error or "")
    pagerduty.faults.clear()
    until(lambda: (row := store.outbox_get(key)) is not None and row.state == OutboxState.SENT)
    assert len(pagerduty.state()["incidents"]) == 1


def _ticket() -> Any:
    from bot.model import Ticket

    return Ticket(text="checkout is slow", tenant="payments")


def test_a_secret_in_the_ticket_never_reaches_the_pager(
    store: Store, bot: SlackBot, pagerduty: PagerDutyEmulator
) -> None:
    job, _ = store.submit(_ticket())
    leaked = "login fails; I tried password=hunter2-hunter2-hunter2"
    page = {
        "service": "pagerduty",
        "key_name": "payments-pd",
        "action": "trigger",
        "dedup_key": job.id,
        "event": {
            "payload": {
                "summary": f"Escalated [payments]: {leaked}",
                "source": "steadfast",
                "severity": "critical",
                "custom_details": {"ticket": leaked},
            }
        },
    }
    key = f"{job.id}:page:pagerduty:payments-pd:trigger"
    store.outbox_put(key, "page.trigger", page, job_id=job.id, purpose="page")
    until(lambda: len(pagerduty.state()["incidents"]) == 1)
    received = repr(pagerduty.state()["events"])
    assert "hunter2" not in received and "[redacted" in received
