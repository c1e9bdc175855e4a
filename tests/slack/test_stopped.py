"""Jobs that stop without a handoff still tell their thread: cancelled, failed, paused."""

from __future__ import annotations

from bot.model import JobStatus, OperatorAction
from bot.settings import Settings
from bot.slack.app import SlackBot, build_bot
from bot.slack.serve import HttpBot
from bot.slack.stopped import StoppedJobs
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.conftest import ASKER, ONCALL, PAY, SECRET, TEAM, thread_messages, until


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


def test_a_failed_job_pages_on_call_once_even_across_a_bot_restart(
    slack: SlackEmulator,
    store: Store,
    bot: SlackBot,
    http_bot: HttpBot,
    settings: Settings,
    policy: Policy,
) -> None:
    bot.stopped.interval = 0.05
    job_id, ts = _queued_job(slack, store, http_bot)
    _, lease = store.claim("w1", lease_ttl=30) or (None, None)
    assert lease is not None and lease.job_id == job_id
    tool_use = {"type": "tool_use", "id": "toolu_a", "name": "k8s_list", "input": {}}
    store.append(lease, "model_response", {"step": 1, "content": [tool_use]})
    store.append(lease, "tool_result", {"tool_use_id": "toolu_a", "content": "checkout 0/3 ready"})
    store.append(lease, "degraded", {"dependency": "vault", "reason": "timed out"})
    store.finish(
        lease, JobStatus.FAILED, error={"kind": "handler_crashed", "message": "KeyError: 'x'"}
    )
    until(lambda: len(slack.messages(ONCALL)) == 1 and len(_texts(slack, ts)) == 2)
    [page] = slack.messages(ONCALL)
    assert page["text"].startswith(f"Steadfast job {job_id} failed: KeyError")
    body = " ".join(b["text"]["text"] for b in page["blocks"] if b["type"] == "section")
    assert "<!subteam^S0ONCALL>" in body and "open the ticket thread" in body
    assert "k8s_list" in body and "step 1, k8s_list" in body and "vault: timed out" in body
    assert "@@STEADFAST" not in body  # the ticket permalink was filled in
    # the bot dies and a new one scans the same store from scratch: nothing is sent twice
    bot.stop()
    again = build_bot(settings, store, FixedPolicy(policy), http=True, update_interval=0.05)
    try:
        assert again.stopped.run_once() == 0
        again.dispatcher.run_once()
    finally:
        again.stop()
    assert len(slack.messages(ONCALL)) == 1 and slack.duplicates() == {}
