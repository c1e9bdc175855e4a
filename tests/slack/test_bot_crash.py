"""A real `steadfast bot` (Socket Mode) SIGKILLed while a mention is still being stored: it
had not acknowledged the envelope, so Slack delivers it again to the next bot, which creates
the job exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from bot.store.store import Store
from emulators.slack import SlackEmulator
from tests.conftest import REPO
from tests.slack.conftest import ASKER, PAY, TEAM, until

pytestmark = pytest.mark.slow


def _bot(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "bot"], cwd=REPO, env=env, stdout=out, stderr=out
        )


def _mention(slack: SlackEmulator, message: dict[str, object]) -> str:
    return slack.socket.send(
        "events_api",
        {
            "type": "event_callback",
            "team_id": TEAM,
            "event": slack.mention_event(message),
            "event_id": f"Ev{str(message['ts']).replace('.', '')}",
            "event_time": int(time.time()),
        },
    )


def test_bot_killed_before_storing_a_mention_never_acked_it(
    slack: SlackEmulator, store: Store, database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"version": 1, "tenants": {"payments": {"channels": [PAY]}}}))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        # the killed bot held the sender lease: the next one sends once it expires
        "STEADFAST_SENDER_LEASE_TTL_SECONDS": "2",
        "SLACK_API_URL": slack.api_url,
    }
    log = tmp_path / "bot.log"
    first = _bot(env, log)
    try:
        assert slack.socket.wait_connected(timeout=30), log.read_text()
        message = slack.user_message(PAY, ASKER, "<@U0BOT> checkout returns 502")
        # Hold the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the jobs table): the bot
        # can receive the mention but cannot store it.
        with store.engine.connect() as blocker, blocker.begin():
            if store.is_postgres:
                blocker.execute(sa.text("LOCK TABLE jobs IN EXCLUSIVE MODE"))
            envelope = _mention(slack, message)
            # A bot that acked now would have promised a job its death is about to lose.
            assert slack.socket.wait_acked(envelope, timeout=2.0) is None
            first.kill()
            first.wait()
            blocker.rollback()
        # On PostgreSQL the submit is one autocommit statement: its backend, queued behind the
        # lock, can still commit once the lock goes, after the bot died. Stored-but-unacked is
        # safe (the redelivery below finds the same key); acked-but-lost is what must not be.
        assert len(store.list_jobs()) <= 1

        second = _bot(env, log)
        try:
            # Slack redelivers what was never acked when the next connection opens.
            assert slack.socket.wait_acked(envelope, timeout=30) is not None, log.read_text()
            key = f"slack:{TEAM}:{PAY}:{message['ts']}"
            job = store.find_by_key(key)
            assert job is not None  # stored before the ack: no waiting needed
            assert [j.id for j in store.list_jobs()] == [job.id]
            until(lambda: len(slack.messages(PAY, str(message["ts"]))) == 2)  # mention + status
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
