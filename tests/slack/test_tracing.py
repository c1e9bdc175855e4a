"""One trace from the Slack mention to the handoff post, joined through the database: the bot
and the worker each have their own `Tracing` (as two processes would), and the worker's run
continues the trace the intake wrote into the ticket; the dispatcher's posts continue the
worker's through the outbox rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.model import JobStatus
from bot.settings import Settings
from bot.slack.app import build_bot
from bot.slack.notifier import SlackNotifier
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.tracing import Tracing
from bot.tracing.carry import ticket_traceparent
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.conftest import ASKER, PAY, SECRET, ReportingHandler, until


@pytest.fixture
def traced(
    settings: Settings, store: Store, policy: Policy
) -> Iterator[tuple[HttpBot, InMemorySpanExporter, InMemorySpanExporter]]:
    bot_spans, worker_spans = InMemorySpanExporter(), InMemorySpanExporter()
    bot_tracing = Tracing.with_exporter(bot_spans, service="steadfast-bot")
    worker_tracing = Tracing.with_exporter(worker_spans, service="steadfast-worker")
    bot = build_bot(
        settings, store, FixedPolicy(policy), http=True, update_interval=0.05, tracing=bot_tracing
    )
    bot.dispatcher.poll_interval = 0.05
    bot.start_dispatcher()
    server = HttpBot(bot, host="127.0.0.1", port=0).start()
    handler = ReportingHandler(SlackNotifier(FixedPolicy(policy)))
    worker = Worker(store, handler, name="w1", lease_ttl=5, poll=0.05, tracing=worker_tracing)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield server, bot_spans, worker_spans
    worker.stop()
    thread.join()
    server.stop()
    bot.stop()
    bot_tracing.shutdown()
    worker_tracing.shutdown()


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def test_intake_run_and_posts_join_into_one_trace(
    slack: SlackEmulator,
    store: Store,
    traced: tuple[HttpBot, InMemorySpanExporter, InMemorySpanExporter],
) -> None:
    server, bot_spans, worker_spans = traced
    message = slack.user_message(PAY, ASKER, "<@U0BOT> checkout is slow")
    assert send_event(server.url, SECRET, slack.mention_event(message)).status_code == 200
    until(lambda: store.list_jobs() and store.get(store.list_jobs()[0].id).status.terminal)
    job = store.list_jobs()[0]
    assert job.status == JobStatus.SUCCEEDED
    handoff_key = f"{job.id}:handoff"
    until(lambda: (row := store.outbox_get(handoff_key)) is not None and row.ts)

    intake = next(s for s in bot_spans.get_finished_spans() if s.name == "slack.mention")
    assert intake.parent is None and intake.attributes["steadfast.job.id"] == job.id
    trace_id = intake.context.trace_id if intake.context else None
    stored = str(ticket_traceparent(store.events(job.id)))
    assert stored.split("-")[1:3] == [f"{trace_id:032x}", f"{_id(intake):016x}"]

    until(lambda: any(s.name == "job.run" for s in worker_spans.get_finished_spans()))
    worker = list(worker_spans.get_finished_spans())
    run = next(s for s in worker if s.name == "job.run")
    assert run.parent is not None and run.parent.span_id == _id(intake)
    assert {s.context.trace_id for s in worker if s.context} == {trace_id}
    assert run.attributes["steadfast.job.status"] == "succeeded"

    puts = {_id(s) for s in worker if s.name == "outbox.put"}
    assert puts and all(
        s.parent and s.parent.span_id == _id(run) for s in worker if s.name == "outbox.put"
    )
    until(
        lambda: any(
            s.name == "outbox.send" and s.attributes["steadfast.outbox.key"] == handoff_key
            for s in bot_spans.get_finished_spans()
        )
    )
    send = next(
        s
        for s in bot_spans.get_finished_spans()
        if s.name == "outbox.send" and s.attributes["steadfast.outbox.key"] == handoff_key
    )
    assert send.context is not None and send.context.trace_id == trace_id
    assert send.parent is not None and send.parent.span_id in puts
    eyes = next(
        s
        for s in bot_spans.get_finished_spans()
        if s.name == "outbox.send" and s.attributes["steadfast.outbox.key"] == f"{job.id}:eyes"
    )
    assert eyes.parent is not None and eyes.parent.span_id == _id(intake)
    # what Slack received carries no trace directive
    assert all("_traceparent" not in str(m) for m in slack.messages(PAY, message["ts"]))
