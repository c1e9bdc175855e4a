"""Signed requests over HTTP: a malformed timestamp is a 401, a replayed signature is refused
by every bot process sharing the database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.settings import Settings
from bot.slack.app import build_bot
from bot.slack.serve import HttpBot
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import event_callback, send_event, signed_headers
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.conftest import ASKER, PAY, SECRET, until


def signed_mention(slack: SlackEmulator) -> tuple[bytes, dict[str, str]]:
    message = slack.user_message(PAY, ASKER, "<@U0BOT> checkout returns 502")
    body = json.dumps(event_callback(slack.mention_event(message))).encode()
    return body, signed_headers(SECRET, body, content_type="application/json")


@pytest.mark.parametrize("timestamp", ["abc", "1.5e9", "", "-5", "\uff11\uff12\uff13", "9" * 40])
def test_a_malformed_timestamp_is_401_not_500(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, timestamp: str
) -> None:
    body, headers = signed_mention(slack)
    headers["X-Slack-Request-Timestamp"] = timestamp
    response = httpx.post(
        http_bot.url,
        content=body,
        headers={k: v.encode("utf-8") for k, v in headers.items()},  # type: ignore[misc]
    )
    assert response.status_code == 401
    assert "Traceback" not in response.text
    assert store.list_jobs() == []


@pytest.fixture
def second_bot(
    settings: Settings, store: Store, policy: Policy, database_url: str
) -> Iterator[HttpBot]:
    """Another bot process's front door on the same database (its own Store and Bolt app)."""
    other_store = Store(database_url, max_attempts=3)
    bot = build_bot(settings, other_store, FixedPolicy(policy), http=True, update_interval=0.05)
    server = HttpBot(bot, host="127.0.0.1", port=0).start()
    yield server
    server.stop()
    other_store.close()


def test_a_replayed_signed_request_is_refused_by_every_bot(
    slack: SlackEmulator, store: Store, http_bot: HttpBot, second_bot: HttpBot
) -> None:
    body, headers = signed_mention(slack)
    first = httpx.post(http_bot.url, content=body, headers=headers)
    assert first.status_code == 200
    until(lambda: len(store.list_jobs()) == 1)
    for url in (http_bot.url, second_bot.url):
        again = httpx.post(url, content=body, headers=headers)
        assert again.status_code == 401, again.text
        assert "already received" in again.text
    assert len(store.list_jobs()) == 1


def test_a_new_signature_for_the_same_event_still_works(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    """Slack's own retries are signed afresh: they pass, and the job dedupe keeps one job."""
    message = slack.user_message(PAY, ASKER, "<@U0BOT> checkout returns 502")
    event = slack.mention_event(message)
    now = int(time.time())
    first = send_event(http_bot.url, SECRET, event, event_id="Ev1", timestamp=now)
    retry = send_event(http_bot.url, SECRET, event, event_id="Ev1", retry_num=1, timestamp=now + 1)
    assert [first.status_code, retry.status_code] == [200, 200]
    until(lambda: len(store.list_jobs()) == 1)
    assert len(store.list_jobs()) == 1


def test_expired_signatures_are_forgotten(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(seconds=1)
    assert store.remember_signature("v0=old", past)
    assert store.remember_signature("v0=old", datetime.now(UTC) + timedelta(minutes=5))
    assert not store.remember_signature("v0=old", datetime.now(UTC) + timedelta(minutes=5))
