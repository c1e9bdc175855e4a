"""The handoff's "Open the trace": signed by the bot when it sends, for that job and tenant, in
the ticket thread and the on-call thread; never stored in the outbox; left out without a
console."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.console.links import ConsoleLinks
from bot.console.tokens import TokenSigner
from bot.settings import Settings
from bot.slack.app import SlackBot, build_bot
from bot.slack.serve import HttpBot
from bot.store.store import Store
from bot.worker.worker import Worker
from emulators.slack import SlackEmulator
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.conftest import ONCALL, PAY, until
from tests.slack.test_end_to_end import ask, handoffs

KEY = SecretStr("t" * 48)
LINK = re.compile(r"<(https://console\.test/jobs/([0-9a-f]+)\?t=([^|>]+))\|Open the trace>")


@pytest.fixture
def bot(settings: Settings, store: Store, policy: Policy) -> Iterator[SlackBot]:
    """The Slack tests' bot, with a console to link to."""
    links = ConsoleLinks(TokenSigner(KEY), "https://console.test", FixedPolicy(policy))
    b = build_bot(
        settings, store, FixedPolicy(policy), http=True, update_interval=0.05, console_links=links
    )
    b.dispatcher.poll_interval = 0.05
    b.start_dispatcher()
    yield b
    b.stop()


def test_handoff_and_oncall_thread_link_the_jobs_trace(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, worker: Worker
) -> None:
    message = ask(slack, http_bot, "escalate please, payments are failing")
    until(lambda: handoffs(slack, PAY, message["ts"]) and slack.messages(ONCALL))
    job = store.list_jobs()[0]
    for posted in (handoffs(slack, PAY, message["ts"])[0], slack.messages(ONCALL)[0]):
        found = LINK.search(str(posted["blocks"]))
        assert found, posted["blocks"]
        assert found.group(2) == job.id
        grant = TokenSigner(KEY).verify(found.group(3))
        assert grant.scope == "job" and grant.opens_job(job.id, "payments")
        assert "@@" not in str(posted)
        # signed at send time: the outbox keeps the placeholder, never a token
        for key in (f"{job.id}:handoff", f"{job.id}:escalation"):
            row = store.outbox_get(key)
            assert row is not None and found.group(3) not in str(row.payload)
