"""Mention → job → worker (through the real SlackNotifier) → handoff, escalation, answers."""

from __future__ import annotations

from bot.model import EventKind, JobStatus
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.slack.conftest import ASKER, ONCALL, PAY, SECRET, thread_messages, until


def ask(slack: SlackEmulator, http_bot: HttpBot, text: str, thread_ts: str | None = None) -> dict:
    message = slack.user_message(PAY, ASKER, f"<@U0BOT> {text}", thread_ts=thread_ts)
    assert send_event(http_bot.url, SECRET, slack.mention_event(message)).status_code == 200
    return message


def handoffs(slack: SlackEmulator, channel: str, ts: str) -> list[dict]:
    return [
        m
        for m in thread_messages(slack, channel, ts)
        if (m.get("metadata") or {})
        .get("event_payload", {})
        .get("outbox_key", "")
        .endswith(":handoff")
    ]


def test_mention_gets_one_handoff_and_one_updated_status_message(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, worker: Worker
) -> None:
    message = ask(slack, http_bot, "checkout is slow")
    until(lambda: len(handoffs(slack, PAY, message["ts"])) == 1)
    job = store.list_jobs()[0]
    until(lambda: store.get(job.id).status == JobStatus.SUCCEEDED)
    thread = thread_messages(slack, PAY, message["ts"])
    status = [
        m for m in thread if m["metadata"]["event_payload"]["outbox_key"] == f"{job.id}:status"
    ]
    assert len(status) == 1
    until(lambda: "Finished" in slack.messages(PAY, message["ts"])[1]["text"])
    assert len(thread_messages(slack, PAY, message["ts"])) == 2  # status + handoff, nothing else
    blocks = handoffs(slack, PAY, message["ts"])[0]["blocks"]
    rendered = str(blocks)
    for part in (
        "Confirmed",
        "Could not reach",
        "Assumptions logged",
        "Recommended next actions",
        "uncertainty 0.80",
        f"steadfast replay {job.id}",
        "steadfast_feedback_helpful",
    ):
        assert part in rendered
    assert slack.duplicates() == {}


def test_escalation_opens_an_oncall_thread_linked_both_ways(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, worker: Worker
) -> None:
    message = ask(slack, http_bot, "escalate please, payments are failing")
    until(lambda: len(slack.messages(ONCALL)) == 1)
    page = slack.messages(ONCALL)[0]
    assert "<!subteam^S0ONCALL>" in str(page["blocks"])
    assert f"archives/{PAY}/p{message['ts'].replace('.', '')}" in str(page["blocks"])

    def note_of() -> list[dict]:
        return [
            m
            for m in thread_messages(slack, PAY, message["ts"])
            if m["metadata"]["event_payload"]["outbox_key"].endswith(":escalation_note")
        ]

    until(note_of)
    note = note_of()[0]
    assert f"archives/{ONCALL}/p{page['ts'].replace('.', '')}" in note["text"]
    assert "@@" not in str(page) + str(note)  # every placeholder was filled


def test_reply_in_thread_answers_a_waiting_job_and_it_resumes(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, worker: Worker
) -> None:
    message = ask(slack, http_bot, "ask me first")
    until(lambda: store.list_jobs() and store.list_jobs()[0].status == JobStatus.WAITING_HUMAN)
    job = store.list_jobs()[0]
    until(
        lambda: any(
            "Which region?" in m["text"] for m in thread_messages(slack, PAY, message["ts"])
        )
    )
    reply = slack.user_message(PAY, ASKER, "eu-west-1", thread_ts=message["ts"])
    send_event(http_bot.url, SECRET, slack.message_event(reply))
    until(lambda: store.get(job.id).status == JobStatus.SUCCEEDED)
    answers = store.events(job.id, kinds=[EventKind.HUMAN_ANSWER])
    assert [a.data["text"] for a in answers] == ["eu-west-1"]
    assert answers[0].data["by"] == ASKER
    until(lambda: len(handoffs(slack, PAY, message["ts"])) == 1)
    assert "eu-west-1" in handoffs(slack, PAY, message["ts"])[0]["text"]


def test_new_mention_in_a_finished_thread_starts_a_follow_up(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, worker: Worker
) -> None:
    message = ask(slack, http_bot, "first question")
    until(lambda: store.list_jobs() and store.list_jobs()[0].status == JobStatus.SUCCEEDED)
    first = store.list_jobs()[0]
    ask(slack, http_bot, "and what about the queue?", thread_ts=message["ts"])
    until(lambda: len(store.list_jobs()) == 2)
    follow = next(j for j in store.list_jobs() if j.id != first.id)
    assert follow.ticket.parent_job_id == first.id
    assert follow.ticket.thread_ts == message["ts"]
    # the follow-up's own log carries what the first job handed off
    [received] = store.events(follow.id, kinds=[EventKind.TICKET_RECEIVED])
    [handoff] = store.events(first.id, kinds=[EventKind.HANDOFF])
    assert received.data["previous_handoff"]["summary"] == handoff.data["summary"]
    until(lambda: len(handoffs(slack, PAY, message["ts"])) == 2)
