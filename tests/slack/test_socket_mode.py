"""Socket Mode through slack_sdk's built-in client and the emulator's WebSocket server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import Settings
from bot.slack.app import build_bot
from bot.slack.serve import SocketBot
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import event_callback
from policy.source import FixedPolicy
from tests.slack.conftest import ASKER, PAY, TEAM, make_policy, until


@pytest.fixture
def socket_bot(settings: Settings, store: Store) -> Iterator[SocketBot]:
    policy = make_policy()
    bot = build_bot(settings, store, FixedPolicy(policy), http=False, update_interval=0.05)
    bot.start_dispatcher()
    runner = SocketBot(bot, settings, ping_interval=0.5).start()
    yield runner
    runner.stop()
    bot.stop()


def mention_envelope(slack: SlackEmulator, text: str) -> tuple[dict, str]:
    message = slack.user_message(PAY, ASKER, f"<@U0BOT> {text}")
    return event_callback(slack.mention_event(message), team_id=TEAM), message["ts"]


def key(ts: str) -> str:
    return f"slack:{TEAM}:{PAY}:{ts}"


@pytest.mark.slow
def test_mentions_survive_forced_disconnects(
    slack: SlackEmulator, store: Store, socket_bot: SocketBot
) -> None:
    assert slack.socket.wait_connected()
    body, ts = mention_envelope(slack, "first")
    envelope = slack.socket.send("events_api", body)
    assert slack.socket.wait_acked(envelope) is not None
    until(lambda: store.find_by_key(key(ts)) is not None)

    # abrupt close, and a mention arrives while the app is away: delivered after reconnect
    slack.socket.disconnect(polite=False)
    body2, ts2 = mention_envelope(slack, "while away")
    slack.socket.send("events_api", body2)
    assert slack.socket.wait_connected(timeout=20, at_least=2)
    until(lambda: store.find_by_key(key(ts2)) is not None, timeout=20)

    # Slack's own "refresh_requested" disconnect, then a redelivery of an event already seen
    slack.socket.disconnect(polite=True)
    assert slack.socket.wait_connected(timeout=20, at_least=3)
    again = slack.socket.send("events_api", body2)
    assert slack.socket.wait_acked(again) is not None
    assert len(store.list_jobs()) == 2
    until(lambda: len(slack.messages(PAY, ts2)) == 2)  # the mention and one status message
