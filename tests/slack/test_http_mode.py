"""The front door in HTTP mode, through the real Bolt stack and signed requests."""

from __future__ import annotations

import threading
import time

import httpx
import sqlalchemy as sa

from bot.model import EventKind
from bot.slack.serve import HttpBot
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.slack.conftest import ASKER, PAY, SECRET, TEAM, thread_messages, until


def mention(slack: SlackEmulator, text: str = "<@U0BOT> checkout returns 502", channel: str = PAY):
    return slack.mention_event(slack.user_message(channel, ASKER, text))


def test_signed_mention_creates_one_job_with_eyes_and_one_status_message(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack)
    response = send_event(http_bot.url, SECRET, event)
    assert response.status_code == 200
    until(lambda: store.find_by_key(f"slack:{TEAM}:{PAY}:{event['ts']}") is not None)
    job = store.find_by_key(f"slack:{TEAM}:{PAY}:{event['ts']}")
    assert job is not None
    assert job.ticket.text == "checkout returns 502"
    assert job.ticket.tenant == "payments"
    assert job.ticket.thread_ts == event["ts"]
    until(lambda: len(thread_messages(slack, PAY, event["ts"])) == 1)
    until(lambda: {"channel": PAY, "ts": event["ts"], "name": "eyes"} in slack.reactions)
    status = thread_messages(slack, PAY, event["ts"])[0]
    assert f"job {job.id}" in status["text"]
    assert status["metadata"]["event_payload"]["outbox_key"] == f"{job.id}:status"


def test_forged_signature_and_stale_timestamp_are_rejected_without_a_job(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    forged = send_event(http_bot.url, "not-the-secret", mention(slack))
    stale = send_event(http_bot.url, SECRET, mention(slack), timestamp=int(time.time()) - 6 * 60)
    assert forged.status_code == 401
    assert stale.status_code == 401
    ok = send_event(http_bot.url, SECRET, mention(slack))  # a good one still works afterwards
    assert ok.status_code == 200
    until(lambda: len(store.list_jobs()) == 1)
    time.sleep(0.2)  # nothing else may appear; the good request proves the pipeline is live
    assert len(store.list_jobs()) == 1


def test_slack_retries_of_the_same_event_create_no_second_job(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack)
    now = int(time.time())  # Slack signs every retry afresh (a new timestamp)
    first = send_event(http_bot.url, SECRET, event, event_id="Ev1", timestamp=now)
    again = send_event(http_bot.url, SECRET, event, event_id="Ev1", retry_num=1, timestamp=now + 1)
    # a second delivery with a new event id (another process got the first) still dedupes
    other = send_event(http_bot.url, SECRET, event, event_id="Ev2", retry_num=2, timestamp=now + 2)
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    until(lambda: len(thread_messages(slack, PAY, event["ts"])) == 1)
    assert len(store.list_jobs()) == 1
    assert slack.duplicates() == {}
    job = store.list_jobs()[0]
    assert len(store.events(job.id, kinds=[EventKind.TICKET_RECEIVED])) == 1


def test_slack_hears_back_only_once_the_job_is_stored(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack)
    responses: list[httpx.Response] = []
    answered = threading.Event()

    def deliver() -> None:
        responses.append(send_event(http_bot.url, SECRET, event))
        answered.set()

    sender = threading.Thread(target=deliver)
    with store.engine.connect() as conn, conn.begin():
        # Hold the write lock (SQLite: BEGIN IMMEDIATE) so the job cannot be written yet.
        if store.is_postgres:
            conn.execute(sa.text("LOCK TABLE jobs IN EXCLUSIVE MODE"))
        sender.start()
        # An ack sent now would promise a job a crash could still lose.
        assert not answered.wait(1.0)
    sender.join(timeout=30)
    assert [r.status_code for r in responses] == [200]
    # No waiting: by the time Slack has its 200, the job is durable.
    assert store.find_by_key(f"slack:{TEAM}:{PAY}:{event['ts']}") is not None


def test_empty_mention_gets_a_reply_and_no_job(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack, "<@U0BOT>   ")
    send_event(http_bot.url, SECRET, event)
    until(lambda: len(thread_messages(slack, PAY, event["ts"])) == 1)
    assert "Tell me what's wrong" in thread_messages(slack, PAY, event["ts"])[0]["text"]
    assert store.list_jobs() == []


def test_oversized_mention_is_explained_not_dropped(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack, "<@U0BOT> " + "x" * 20_000)
    send_event(http_bot.url, SECRET, event)
    until(lambda: len(thread_messages(slack, PAY, event["ts"])) == 1)
    assert "20,000 characters" in thread_messages(slack, PAY, event["ts"])[0]["text"]
    assert store.list_jobs() == []


def test_bot_authored_mention_is_ignored(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = dict(mention(slack), bot_id="B0OTHER")
    assert send_event(http_bot.url, SECRET, event).status_code == 200
    control = mention(slack)  # processed after the bot one: proves the bot one was seen
    send_event(http_bot.url, SECRET, control)
    until(lambda: len(store.list_jobs()) == 1)
    assert store.list_jobs()[0].ticket.ts == control["ts"]


def test_unmapped_channel_is_refused_with_a_reason(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    event = mention(slack, channel="C0ELSEWHERE")
    send_event(http_bot.url, SECRET, event)
    until(lambda: len(thread_messages(slack, "C0ELSEWHERE", event["ts"])) == 1)
    assert "not mapped to a tenant" in thread_messages(slack, "C0ELSEWHERE", event["ts"])[0]["text"]
    assert store.list_jobs() == []


def test_healthz(http_bot: HttpBot) -> None:
    response = httpx.get(f"http://127.0.0.1:{http_bot.port}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
