"""Replies to a paused job are kept or refused out loud, and a resume clears "Paused"."""

from __future__ import annotations

from bot.model import EventKind, JobStatus, OperatorAction
from bot.slack.app import SlackBot
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.slack.conftest import ASKER, PAY, SECRET, thread_messages, until
from tests.slack.test_end_to_end import ask


def _texts(slack: SlackEmulator, ts: str) -> list[str]:
    return [m["text"] for m in thread_messages(slack, PAY, ts)]


def test_answer_while_paused_is_kept_and_used_on_resume(
    slack: SlackEmulator, store: Store, bot: SlackBot, http_bot: HttpBot, worker: Worker
) -> None:
    bot.stopped.interval = 0.05
    message = ask(slack, http_bot, "ask me first")
    until(lambda: store.list_jobs() and store.list_jobs()[0].status == JobStatus.WAITING_HUMAN)
    job = store.list_jobs()[0]
    until(lambda: any("Which region?" in t for t in _texts(slack, message["ts"])))
    store.operator(job.id, OperatorAction.PAUSE, by="alice", reason="on hold")
    until(lambda: _texts(slack, message["ts"])[0].startswith(":double_vertical_bar: Paused"))

    reply = slack.user_message(PAY, ASKER, "eu-west-1", thread_ts=message["ts"])
    send_event(http_bot.url, SECRET, slack.message_event(reply))
    until(lambda: any("I kept your answer" in t for t in _texts(slack, message["ts"])))
    [kept] = store.events(job.id, kinds=[EventKind.HUMAN_ANSWER])
    assert kept.data["text"] == "eu-west-1" and kept.data["while_paused"] is True
    assert store.get(job.id).status == JobStatus.PAUSED  # the pause holds

    store.operator(job.id, OperatorAction.RESUME, by="alice", reason="go on")
    until(lambda: store.get(job.id).status == JobStatus.SUCCEEDED)
    [handoff] = store.events(job.id, kinds=[EventKind.HANDOFF])
    assert "eu-west-1" in handoff.data["summary"]
    until(lambda: not _texts(slack, message["ts"])[0].startswith(":double_vertical_bar:"))


def test_chatter_while_paused_is_refused_out_loud_and_resume_clears_paused(
    slack: SlackEmulator, store: Store, bot: SlackBot, http_bot: HttpBot
) -> None:
    bot.stopped.interval = 0.05
    message = ask(slack, http_bot, "checkout returns 502")
    job = store.list_jobs()[0]
    until(lambda: len(_texts(slack, message["ts"])) == 1)  # the status message
    store.operator(job.id, OperatorAction.PAUSE, by="alice", reason="")
    until(lambda: _texts(slack, message["ts"])[0].startswith(":double_vertical_bar: Paused"))

    reply = slack.user_message(PAY, ASKER, "also the cart is slow", thread_ts=message["ts"])
    send_event(http_bot.url, SECRET, slack.message_event(reply))
    until(lambda: any("was not added" in t for t in _texts(slack, message["ts"])))
    assert not store.events(job.id, kinds=[EventKind.HUMAN_ANSWER])

    store.operator(job.id, OperatorAction.RESUME, by="alice", reason="")
    until(lambda: "Investigating" in _texts(slack, message["ts"])[0])
    status = thread_messages(slack, PAY, message["ts"])[0]
    assert "Resumed by alice" in str(status["blocks"])
    for _ in range(3):
        assert bot.stopped.run_once() == 0  # said once
