"""Two real `steadfast bot` processes (HTTP mode) share one database. Mentions stream in to
both; one of them holds the sender lease and posts. SIGKILL it mid-stream: the other takes the
lease over and every mention still gets exactly one status message, none twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.store.leases import SENDER
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.conftest import REPO
from tests.slack.conftest import ASKER, PAY, SECRET, TEAM, thread_messages, until, wait_until

pytestmark = pytest.mark.slow

MENTIONS = 40
KILL_AFTER = 12  # posts seen before the sender is killed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "bot", "--mode", "http", *self._where()],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=out,
            )

    def _where(self) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(self.port)]

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _sender_pid(store: Store) -> int | None:
    held = store.leader_current(SENDER)
    if held is None or held[0] is None:
        return None
    return int(held[0].split("-")[-2])  # holder is host-pid-nonce


def test_sigkill_of_the_sending_bot_loses_and_repeats_nothing(
    slack: SlackEmulator, store: Store, database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"version": 1, "tenants": {"payments": {"channels": [PAY]}}}))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_SENDER_LEASE_TTL_SECONDS": "2",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    # Slack answers each post a little late: a backlog builds up, and a kill often lands
    # between a post and its `sent` mark (what the next sender must verify, not repeat).
    slack.post_ack_delay = 0.05
    log = tmp_path / "bots.log"
    bots = [BotProcess(env, log), BotProcess(env, log)]
    try:
        assert wait_until(lambda: all(b.healthy() for b in bots), 60), log.read_text()
        assert wait_until(lambda: _sender_pid(store) in {b.proc.pid for b in bots}, 30)
        sender = next(b for b in bots if b.proc.pid == _sender_pid(store))
        survivor = next(b for b in bots if b is not sender)
        token_before = store.leader_current(SENDER)
        assert token_before is not None

        events: list[dict[str, Any]] = []
        killed = threading.Event()

        def stream() -> None:
            with httpx.Client() as client:
                for i in range(MENTIONS):
                    message = slack.user_message(PAY, ASKER, f"<@U0BOT> mention {i} fails")
                    event = slack.mention_event(message)
                    events.append(event)
                    target = bots[i % 2] if not killed.is_set() else survivor
                    try:
                        ok = send_event(target.url, SECRET, event, client=client).status_code
                    except httpx.HTTPError:
                        ok = 0
                    if ok != 200:  # Slack redelivers what was not acknowledged
                        response = send_event(survivor.url, SECRET, event, retry_num=1)
                        assert response.status_code == 200, log.read_text()

        feeder = threading.Thread(target=stream)
        feeder.start()
        try:
            # kill while mentions are still arriving and posts are going out
            until(lambda: len(slack.posts_by_key) >= KILL_AFTER, timeout=60)
            sender.kill()
            killed.set()
        finally:
            feeder.join(120)
        assert not feeder.is_alive()
        assert len(events) == MENTIONS

        def answered(event: dict[str, Any]) -> bool:
            return len(thread_messages(slack, PAY, event["ts"])) >= 1

        until(lambda: all(answered(e) for e in events), timeout=90)
        for event in events:
            assert len(thread_messages(slack, PAY, event["ts"])) == 1, event["ts"]
            job = store.find_by_key(f"slack:{TEAM}:{PAY}:{event['ts']}")
            assert job is not None
        assert len(store.list_jobs(limit=1000)) == MENTIONS
        assert slack.duplicates() == {}
        after = store.leader_current(SENDER)
        assert after is not None
        assert after[0] is not None and f"-{survivor.proc.pid}-" in after[0]
        assert after[1] > token_before[1]  # a new fencing token: the lease changed hands
    finally:
        for b in bots:
            b.kill()
