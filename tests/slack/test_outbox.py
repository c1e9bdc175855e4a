"""The outbox dispatcher against the Slack emulator: exactly once, 429s, coalesced updates."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.model import OutboxState
from bot.slack.outbox import OutboxDispatcher, outbox_metadata
from bot.store.store import Store
from emulators.slack import SlackEmulator
from tests.slack.conftest import PAY, until


def client(slack: SlackEmulator, retries: int = 1) -> WebClient:
    return WebClient(
        token="xoxb-test",
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=retries)],
    )


def post(store: Store, key: str, text: str, **extra: object) -> None:
    store.outbox_put(key, "chat.postMessage", {"channel": PAY, "text": text, **extra}, purpose="t")


def drain(dispatcher: OutboxDispatcher, store: Store, keys: list[str], timeout: float = 20) -> None:
    def done() -> bool:
        dispatcher.run_once()
        rows = [store.outbox_get(k) for k in keys]
        return all(r is not None and r.state == OutboxState.SENT for r in rows)

    until(done, timeout)


def test_row_left_sending_after_slack_posted_it_is_not_posted_again(
    slack: SlackEmulator, store: Store
) -> None:
    post(store, "j1:handoff", "the handoff")
    # a previous dispatcher posted it and died before recording the ts
    web = client(slack)
    web.chat_postMessage(
        channel=PAY, text="the handoff", metadata=outbox_metadata("j1:handoff", "j1")
    )
    store.outbox_mark("j1:handoff", OutboxState.SENDING)
    dispatcher = OutboxDispatcher(store, web)
    drain(dispatcher, store, ["j1:handoff"])
    assert len(slack.messages(PAY)) == 1
    assert slack.duplicates() == {}
    row = store.outbox_get("j1:handoff")
    assert row is not None and row.ts == slack.messages(PAY)[0]["ts"]


def test_row_left_sending_that_never_reached_slack_is_sent_once(
    slack: SlackEmulator, store: Store
) -> None:
    post(store, "j2:handoff", "lost in flight")
    store.outbox_mark("j2:handoff", OutboxState.SENDING)
    dispatcher = OutboxDispatcher(store, client(slack))
    drain(dispatcher, store, ["j2:handoff"])
    dispatcher.run_once()
    assert [m["text"] for m in slack.messages(PAY)] == ["lost in flight"]


@pytest.mark.slow
def test_429_storm_delays_posts_and_loses_none(slack: SlackEmulator, store: Store) -> None:
    keys = [f"j{i}:handoff" for i in range(8)]
    for key in keys:
        post(store, key, key)
    slack.faults.set("429", retry_after=1, count=4, path="chat.postMessage")
    dispatcher = OutboxDispatcher(store, client(slack, retries=1))
    started = time.monotonic()
    drain(dispatcher, store, keys, timeout=30)
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured, not hammered
    assert sorted(m["text"] for m in slack.messages(PAY)) == sorted(keys)
    assert slack.duplicates() == {}
    assert slack.faults.injected == 4


def test_progress_updates_coalesce_into_one_status_message(
    slack: SlackEmulator, store: Store
) -> None:
    post(store, "j3:status", "Investigating")
    dispatcher = OutboxDispatcher(store, client(slack), update_interval=0.3)
    drain(dispatcher, store, ["j3:status"])
    for step in range(20):
        store.outbox_put(
            f"j3:progress:{step}",
            "chat.update",
            {
                "channel": PAY,
                "text": f"step {step}",
                "_update_of": "j3:status",
                "_coalesce": "j3:status",
            },
            purpose="progress",
        )
    drain(dispatcher, store, [f"j3:progress:{s}" for s in range(20)])
    status = slack.messages(PAY)
    assert len(status) == 1  # updates never create messages
    assert status[0]["text"] == "step 19"  # latest wins
    assert slack.calls["chat.update"] <= 2  # coalesced and throttled, not 20 edits


def test_update_waits_for_its_message_and_permanent_errors_fail_the_row(
    slack: SlackEmulator, store: Store
) -> None:
    store.outbox_put(
        "j4:progress:1", "chat.update", {"channel": PAY, "text": "x", "_update_of": "j4:status"}
    )
    dispatcher = OutboxDispatcher(store, client(slack))
    dispatcher.run_once()
    row = store.outbox_get("j4:progress:1")
    assert row is not None and row.state == OutboxState.PENDING and row.not_before is not None
    post(
        store,
        "j4:bad",
        "",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}],
    )
    dispatcher.run_once()
    bad = store.outbox_get("j4:bad")
    assert (
        bad is not None and bad.state == OutboxState.FAILED and bad.last_error == "invalid_blocks"
    )


def test_rows_that_depend_on_a_failed_row_fail_instead_of_waiting_forever(
    slack: SlackEmulator, store: Store
) -> None:
    store.outbox_put("j5:status", "chat.postMessage", {"channel": "", "text": "x"})
    store.outbox_put(
        "j5:progress:1", "chat.update", {"channel": PAY, "text": "y", "_update_of": "j5:status"}
    )
    dispatcher = OutboxDispatcher(store, client(slack))
    dispatcher.run_once()
    status = store.outbox_get("j5:status")
    assert status is not None and status.state == OutboxState.FAILED
    dispatcher.run_once()
    dependent = store.outbox_get("j5:progress:1")
    assert dependent is not None and dependent.state == OutboxState.FAILED
    assert "j5:status failed" in (dependent.last_error or "")


def test_two_dispatchers_on_one_database_one_sends_and_a_clean_stop_hands_over(
    slack: SlackEmulator, store: Store
) -> None:
    first = OutboxDispatcher(store, client(slack), poll_interval=0.02, lease_ttl=10).start()
    until(lambda: first.is_sender)
    second = OutboxDispatcher(store, client(slack), poll_interval=0.02, lease_ttl=10).start()
    try:
        keys = [f"j{i}:status" for i in range(10)]
        for key in keys:
            post(store, key, key)
        second.wake()  # the follower is told of the rows too, and must still leave them alone
        until(lambda: first.sent == len(keys))
        assert second.sent == 0 and not second.is_sender
        first.stop()  # releases the lease: the follower need not wait out the 10 s TTL
        post(store, "later:status", "after the handover")
        until(lambda: second.sent == 1)
        assert second.is_sender
        assert len(slack.messages(PAY)) == len(keys) + 1 and slack.duplicates() == {}
    finally:
        first.stop()
        second.stop()
