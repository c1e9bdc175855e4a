"""SIGKILL between "Slack posted it" and "the outbox recorded it": no duplicate post."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from slack_sdk import WebClient

from bot.model import OutboxState
from bot.slack.outbox import OutboxDispatcher
from bot.store.store import Store
from emulators.slack import SlackEmulator
from tests.conftest import REPO
from tests.slack.conftest import PAY, until

SENDER = textwrap.dedent(
    """
    import sys, threading
    from slack_sdk import WebClient
    from bot.slack.outbox import OutboxDispatcher
    from bot.store.store import Store
    store = Store(sys.argv[1])
    OutboxDispatcher(store, WebClient(token="xoxb-test", base_url=sys.argv[2])).start()
    threading.Event().wait()
    """
)


@pytest.mark.slow
def test_sigkill_after_post_before_mark_does_not_post_twice(
    slack: SlackEmulator, store: Store, database_url: str
) -> None:
    store.outbox_put(
        "job1:handoff", "chat.postMessage", {"channel": PAY, "text": "handoff"}, job_id=None
    )
    slack.post_ack_delay = 30  # Slack stores the message, then the answer hangs
    proc = subprocess.Popen(
        [sys.executable, "-c", SENDER, database_url, slack.api_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        until(lambda: len(slack.messages(PAY)) == 1, timeout=30)
        row = store.outbox_get("job1:handoff")
        assert row is not None and row.state == OutboxState.SENDING
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    slack.post_ack_delay = 0
    dispatcher = OutboxDispatcher(store, WebClient(token="xoxb-test", base_url=slack.api_url))

    def sent() -> bool:
        dispatcher.run_once()
        r = store.outbox_get("job1:handoff")
        return r is not None and r.state == OutboxState.SENT

    until(sent)
    assert len(slack.messages(PAY)) == 1
    assert slack.duplicates() == {}
    row = store.outbox_get("job1:handoff")
    assert row is not None and row.ts == slack.messages(PAY)[0]["ts"]
