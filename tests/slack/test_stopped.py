"""Jobs that stop without a handoff still tell their thread: cancelled, failed, paused."""

from __future__ import annotations

from bot.model import JobStatus, OperatorAction
from bot.slack.app import SlackBot
from bot.slack.serve import HttpBot
from bot.slack.stopped import StoppedJobs
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.slack.conftest import ASKER, PAY, SECRET, TEAM, thread_messages, until


def _queued_job(slack: SlackEmulator, store: Store, http_bot: HttpBot) -> tuple[str, str]:
    message = slack.user_message(PAY, ASKER, "<@U0BOT> checkout returns 502")
    assert send_event(http_bot.url, SECRET, slack.mention_event(message)).status_code == 200
    job = store.find_by_key(f"slack:{TEAM}:{PAY}:{message['ts']}")
    assert job is not None
    until(lambda: len(thread_messages(slack, PAY, message["ts"])) == 1)  # the status message
    return job.id, message["ts"]


def _texts(slack: SlackEmulator, ts: str) -> list[str]:
    return [m["text"] for m in thread_messages(slack, PAY, ts)]


def test_cancel_from_the_cli_updates_the_status_and_tells_the_thread_once(
    slack: SlackEmulator, store: Store, bot: SlackBot, http_bot: HttpBot
) -> None:
    bot.stopped.interval = 0.05
    job_id, ts = _queued_job(slack, store, http_bot)
    store.operator(job_id, OperatorAction.CANCEL, by="U0OPS", reason="duplicate of INC-7")
    # the edit and the note are separate calls: wait for both
    until(
        lambda: _texts(slack, ts)[0].startswith(":no_entry_sign:") and len(_texts(slack, ts)) == 2
    )
    status, note = _texts(slack, ts)
    assert status.startswith(":no_entry_sign: Cancelled by <@U0OPS>: duplicate of INC-7")
    assert f"Job `{job_id}` was cancelled" in note
    for _ in range(3):  # later passes find nothing new to say
        assert bot.stopped.run_once() == 0
    # nor does a restarted bot: the outbox keys come from the job, not from this process
    assert StoppedJobs(store, on_outbox=lambda: None).run_once() == 0
    bot.dispatcher.run_once()
    assert len(_texts(slack, ts)) == 2 and slack.duplicates() == {}


def test_a_job_that_fails_says_why_and_how_to_retry(
    slack: SlackEmulator, store: Store, bot: SlackBot, http_bot: HttpBot
) -> None:
    bot.stopped.interval = 0.05
    job_id, ts = _queued_job(slack, store, http_bot)
    _, lease = store.claim("w1", lease_ttl=30) or (None, None)
    assert lease is not None and lease.job_id == job_id
    store.finish(
        lease, JobStatus.FAILED, error={"kind": "model_auth", "message": "the API key was refused"}
    )
    until(lambda: _texts(slack, ts)[0].startswith(":x:") and len(_texts(slack, ts)) == 2)
    status, note = _texts(slack, ts)
    assert status.startswith(":x: Failed: the API key was refused")
    assert f"`steadfast retry {job_id}`" in note


def test_pause_updates_the_status_without_a_thread_note(
    slack: SlackEmulator, store: Store, bot: SlackBot, http_bot: HttpBot
) -> None:
    bot.stopped.interval = 0.05
    job_id, ts = _queued_job(slack, store, http_bot)
    store.operator(job_id, OperatorAction.PAUSE, by="alice", reason="")
    until(lambda: _texts(slack, ts)[0].startswith(":double_vertical_bar: Paused by alice"))
    bot.dispatcher.run_once()
    assert len(_texts(slack, ts)) == 1
