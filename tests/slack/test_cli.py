"""`steadfast run --mode http` as a real process: a signed mention becomes a job the in-process
worker finishes; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from bot.model import JobStatus
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import send_event
from tests.conftest import REPO
from tests.slack.conftest import ASKER, PAY, SECRET, until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_run_http_mode_end_to_end(
    slack: SlackEmulator, store: Store, database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"version": 1, "tenants": {"payments": {"channels": [PAY]}}}))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    log = (tmp_path / "bot.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "steadfast"),
            "run",
            "--mode",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--handler",
            "scripted",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.TransportError:
                return proc.poll() is not None

        until(healthy, timeout=30)
        assert proc.poll() is None, (tmp_path / "bot.log").read_text()
        message = slack.user_message(PAY, ASKER, "<@U0BOT> steps=2 step_ms=1")
        url = f"http://127.0.0.1:{port}/slack/events"
        assert send_event(url, SECRET, slack.mention_event(message)).status_code == 200
        until(lambda: store.list_jobs() and store.list_jobs()[0].status == JobStatus.SUCCEEDED, 30)
        until(lambda: len(slack.messages(PAY, message["ts"])) == 2)  # mention + status
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
