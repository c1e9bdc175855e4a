"""Alertmanager → the bot's `/alerts/alertmanager` (real HTTP, the real health server) → jobs,
a thread opened through the outbox in emulated Slack, the worker's status and handoff in it,
and the resolved note. Nothing is monkeypatched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from bot.alerts.wiring import alert_posts, settings_scrubber
from bot.handler import HandlerResult, JobContext
from bot.handoff.model import Handoff, Score
from bot.metrics import Metrics
from bot.model import EventKind, JobStatus
from bot.ops.health import HealthServer
from bot.ops.wiring import start_health
from bot.settings import Settings
from bot.slack.app import SlackBot
from bot.slack.notifier import SlackNotifier
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.tracing import Tracing, trace_id_of
from bot.tracing.carry import ticket_traceparent
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from policy.alerts import AlertRoute
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.alertmanager_payload import alert, notification, post, resolved
from tests.slack.conftest import OPERATOR, PAY, SECRET, make_policy, thread_messages, until

TOKEN = "am-webhook-token-7f3c9e1d"


@pytest.fixture
def policy() -> Policy:
    route = AlertRoute(matchers=['namespace="payments-prod"'], channel=PAY, max_alerts_per_group=2)
    return make_policy().model_copy(update={"alert_routes": [route]})


@dataclass
class Endpoint:
    url: str
    metrics: Metrics

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels or None) or 0.0


@pytest.fixture
def endpoint(settings: Settings, store: Store, policy: Policy, bot: SlackBot) -> Iterator[Endpoint]:
    s = settings.model_copy(
        update={"alerts_token": SecretStr(TOKEN), "health_port": 0, "db_metrics": False}
    )
    metrics = Metrics()
    posts = alert_posts(
        s,
        store,
        FixedPolicy(policy),
        scrub=settings_scrubber(s).scrub,
        metrics=metrics,
        on_outbox=bot.dispatcher.wake,
    )
    server = start_health(
        s, metrics, store, policy_loaded=lambda: None, posts=posts, host="127.0.0.1"
    )
    assert isinstance(server, HealthServer)
    yield Endpoint(f"http://127.0.0.1:{server.port}/alerts/alertmanager", metrics)
    server.stop()


def key_of(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("outbox_key"))


def roots(slack: SlackEmulator) -> list[dict[str, Any]]:
    return [m for m in slack.messages(PAY) if key_of(m).endswith(":alert")]


def test_an_alert_sent_three_times_then_resolved_is_one_job_one_thread_one_note(
    slack: SlackEmulator, store: Store, endpoint: Endpoint, worker: Worker
) -> None:
    firing = notification(alert())
    answers = [post(endpoint.url, firing, token=TOKEN) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len(answers[0].json()["created"]) == 1
    job_id = answers[0].json()["created"][0]
    assert answers[1].json()["duplicate"] == [job_id] == answers[2].json()["duplicate"]

    until(lambda: store.get(job_id).status == JobStatus.SUCCEEDED)
    until(lambda: len(roots(slack)) == 1)
    root = roots(slack)[0]
    assert "checkout-7d9f8b6c5-x2x4z is restarting" in root["text"]
    until(
        lambda: any(
            key_of(m) == f"{job_id}:handoff" for m in thread_messages(slack, PAY, root["ts"])
        )
    )
    until(lambda: store.get(job_id).ticket.thread_ts == root["ts"])  # replies there reach it

    for _ in range(2):  # Alertmanager repeats resolved notifications too
        assert post(endpoint.url, resolved(firing), token=TOKEN).status_code == 202

    def notes() -> list[dict[str, Any]]:
        return [
            m
            for m in thread_messages(slack, PAY, root["ts"])
            if key_of(m) == f"{job_id}:alert_resolved"
        ]

    until(lambda: len(notes()) == 1)
    assert "resolved at 2026-12-02T10:20:00Z" in notes()[0]["text"]
    assert len(store.list_jobs()) == 1
    assert len(roots(slack)) == 1
    assert len(store.events(job_id, kinds=[EventKind.ALERT_RESOLVED])) == 1
    assert slack.duplicates() == {}
    ticket = store.get(job_id).ticket
    assert ticket.tenant == "payments" and ticket.channel == PAY
    assert "Summary: KubePodCrashLooping" in ticket.text
    assert endpoint.sample("steadfast_alerts_received_total", status="firing") == 3
    assert endpoint.sample("steadfast_alerts_received_total", status="resolved") == 2
    assert endpoint.sample("steadfast_alerts_deduplicated_total") == 2


def test_a_new_firing_of_the_same_alert_is_a_new_investigation(
    store: Store, endpoint: Endpoint
) -> None:
    first = post(endpoint.url, notification(alert()), token=TOKEN).json()["created"]
    later = alert(starts_at="2026-12-02T14:00:00Z")
    second = post(endpoint.url, notification(later), token=TOKEN).json()["created"]
    assert len(first) == len(second) == 1 and first != second


class WaitsForResolution:
    """A job that keeps investigating until it is told its alert resolved (checkpoint after
    checkpoint, as the agent loop does between model steps), then hands off what it heard."""

    def __init__(self, notifier: SlackNotifier) -> None:
        self.notifier = notifier
        self.started = threading.Event()

    def run(self, ctx: JobContext) -> HandlerResult:
        self.started.set()
        deadline = time.monotonic() + 60  # only catches a hang
        while not any(e.kind == EventKind.ALERT_RESOLVED for e in ctx.events):
            assert time.monotonic() < deadline, "the running job was never told"
            ctx.checkpoint()
            ctx.hold_lease()
            time.sleep(0.02)
        told = next(e for e in ctx.events if e.kind == EventKind.ALERT_RESOLVED)
        handoff = Handoff(
            job_id=ctx.job.id,
            verdict="resolved",
            summary=f"told the alert resolved at {told.data['ends_at']}",
            confirmed=["pods are running"],
            score=Score(
                total=0.1, uncertainty=0.1, novelty=0.1, intervention_benefit=0.1, threshold=0.6
            ),
            tenant=ctx.job.ticket.tenant,
        )
        ctx.append(EventKind.HANDOFF, handoff.model_dump())
        self.notifier.handoff(ctx, handoff)
        return HandlerResult(JobStatus.SUCCEEDED, verdict="resolved")


def test_a_running_job_is_told_its_alert_resolved_not_stopped(
    slack: SlackEmulator, store: Store, policy: Policy, endpoint: Endpoint
) -> None:
    handler = WaitsForResolution(SlackNotifier(FixedPolicy(policy)))
    w = Worker(store, handler, name="alert-worker", concurrency=1, lease_ttl=5, poll=0.05)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        firing = notification(alert())
        job_id = post(endpoint.url, firing, token=TOKEN).json()["created"][0]
        assert handler.started.wait(30)
        assert store.get(job_id).status == JobStatus.RUNNING
        assert post(endpoint.url, resolved(firing), token=TOKEN).json()["resolved"] == [job_id]
        until(lambda: store.get(job_id).status == JobStatus.SUCCEEDED, timeout=60)
        handoff = store.events(job_id, kinds=[EventKind.HANDOFF])[0]
        assert handoff.data["summary"] == "told the alert resolved at 2026-12-02T10:20:00Z"
        until(lambda: len(roots(slack)) == 1)
        root = roots(slack)[0]
        until(
            lambda: any("it was told" in m["text"] for m in thread_messages(slack, PAY, root["ts"]))
        )
    finally:
        w.stop()
        thread.join(10)


def test_group_over_the_route_cap_starts_the_oldest_and_lists_the_rest(
    slack: SlackEmulator, store: Store, endpoint: Endpoint
) -> None:
    group = notification(
        *[
            alert(fingerprint=f"f{i}", starts_at=f"2026-12-02T09:0{i}:00Z", pod=f"checkout-{i}")
            for i in (3, 1, 4, 2)
        ]
    )
    answer = post(endpoint.url, group, token=TOKEN).json()
    assert len(answer["created"]) == 2 and answer["over_cap"] == 2
    started = {store.get(j).idempotency_key for j in answer["created"]}
    assert started == {
        "alertmanager:f1:2026-12-02T09:01:00Z",
        "alertmanager:f2:2026-12-02T09:02:00Z",
    }
    again = post(endpoint.url, group, token=TOKEN).json()
    assert again["created"] == [] and sorted(again["duplicate"]) == sorted(answer["created"])
    until(lambda: len(roots(slack)) == 2)
    first = next(m for m in roots(slack) if key_of(m) == f"{answer['created'][0]}:alert")

    def listed() -> list[dict[str, Any]]:
        return [
            m for m in thread_messages(slack, PAY, first["ts"]) if ":alert_overflow:" in key_of(m)
        ]

    until(lambda: len(listed()) == 1)
    assert "`f3`" in listed()[0]["text"] and "`f4`" in listed()[0]["text"]
    assert len(store.list_jobs()) == 2
    assert endpoint.sample("steadfast_alerts_over_cap_total") == 4  # 2 per notification


def test_an_alert_no_route_matches_starts_nothing(store: Store, endpoint: Endpoint) -> None:
    other = notification(alert(namespace="search-prod"))
    answer = post(endpoint.url, other, token=TOKEN)
    assert answer.status_code == 202 and answer.json()["unrouted"] == 1
    assert store.list_jobs() == [] and store.outbox_due(limit=10) == []
    assert endpoint.sample("steadfast_alerts_unrouted_total") == 1


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"token": "wrong-token"},
        {"token": TOKEN[:-1]},
        {"basic": ("alertmanager", "wrong")},
        {"basic": ("someone", TOKEN)},
    ],
)
def test_requests_without_the_secret_get_401_and_store_nothing(
    store: Store, endpoint: Endpoint, auth: dict[str, Any]
) -> None:
    answer = post(endpoint.url, notification(alert()), **auth)
    assert answer.status_code == 401
    assert "Bearer" in answer.headers["WWW-Authenticate"]
    assert store.list_jobs() == [] and store.outbox_due(limit=10) == []
    assert endpoint.sample("steadfast_alert_requests_total", code="401") == 1


def test_basic_auth_with_the_token_as_password_is_accepted(
    store: Store, endpoint: Endpoint
) -> None:
    answer = post(endpoint.url, notification(alert()), basic=("alertmanager", TOKEN))
    assert answer.status_code == 202 and len(store.list_jobs()) == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b'{"version": "3", "status": "firing", "alerts": []}', "version"),
        (b'{"version": "4", "status": "firing", "alerts": [{"status": "firing"}]}', "labels"),
        (b'["a list"]', "version 4"),
    ],
)
def test_malformed_bodies_get_400_and_store_nothing(
    store: Store, endpoint: Endpoint, body: bytes, why: str
) -> None:
    answer = post(endpoint.url, None, token=TOKEN, raw=body)
    assert answer.status_code == 400 and why in answer.json()["error"]
    assert store.list_jobs() == [] and store.outbox_due(limit=10) == []


def test_a_missing_fingerprint_is_malformed(store: Store, endpoint: Endpoint) -> None:
    body = notification(alert())
    del body["alerts"][0]["fingerprint"]
    assert post(endpoint.url, body, token=TOKEN).status_code == 400
    assert store.list_jobs() == []


def test_a_body_over_the_cap_is_refused_unread(store: Store, endpoint: Endpoint) -> None:
    huge = notification(*[alert(fingerprint=f"x{i}", pad="p" * 4000) for i in range(300)])
    assert post(endpoint.url, huge, token=TOKEN).status_code == 413
    assert store.list_jobs() == []


def test_alert_text_is_capped_and_scrubbed(store: Store, endpoint: Endpoint) -> None:
    noisy = alert()
    noisy["annotations"]["description"] = "x" * 50_000
    noisy["labels"]["leak"] = f"token={TOKEN}"
    job_id = post(endpoint.url, notification(noisy), token=TOKEN).json()["created"][0]
    text = store.get(job_id).ticket.text
    assert TOKEN not in text and "[redacted:" in text
    assert len(text) < 6_000


def test_each_alert_starts_a_trace_its_job_continues(
    settings: Settings, store: Store, policy: Policy
) -> None:
    spans = InMemorySpanExporter()
    tracing = Tracing.with_exporter(spans, service="steadfast-bot")
    s = settings.model_copy(update={"alerts_token": SecretStr(TOKEN), "health_port": 0})
    posts = alert_posts(
        s, store, FixedPolicy(policy), scrub=settings_scrubber(s).scrub, tracing=tracing
    )
    server = HealthServer(0, Metrics(), {}, host="127.0.0.1", posts=posts).start()
    try:
        url = f"http://127.0.0.1:{server.port}/alerts/alertmanager"
        [job_id] = post(url, notification(alert()), token=TOKEN).json()["created"]
    finally:
        server.stop()
        tracing.shutdown()
    [span] = [x for x in spans.get_finished_spans() if x.name == "alertmanager.alert"]
    assert span.attributes is not None and span.attributes["steadfast.job.id"] == job_id
    assert span.context is not None
    carried = trace_id_of(ticket_traceparent(store.events(job_id)))
    assert carried == format(span.context.trace_id, "032x")


def test_the_alert_thread_works_like_a_mention_thread_for_answers(
    slack: SlackEmulator, store: Store, endpoint: Endpoint, http_bot: HttpBot, worker: Worker
) -> None:
    """The job asks in the thread the bot opened; an operator's reply there is its answer."""
    asking = alert()
    asking["annotations"]["description"] = "ask on-call which region first"
    job_id = post(endpoint.url, notification(asking), token=TOKEN).json()["created"][0]
    until(lambda: store.get(job_id).status == JobStatus.WAITING_HUMAN)
    until(lambda: store.get(job_id).ticket.thread_ts is not None)
    root = str(store.get(job_id).ticket.thread_ts)
    until(lambda: any("Which region?" in m["text"] for m in thread_messages(slack, PAY, root)))
    message = slack.user_message(PAY, OPERATOR, "eu-west-1", thread_ts=root)
    assert send_event(http_bot.url, SECRET, slack.message_event(message)).status_code == 200
    until(lambda: store.get(job_id).status == JobStatus.SUCCEEDED)
    [handoff] = store.events(job_id, kinds=[EventKind.HANDOFF])
    assert "(answer: eu-west-1)" in handoff.data["summary"]
