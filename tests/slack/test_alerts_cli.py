"""`steadfast run` in Socket Mode as a real process serves Alertmanager's endpoint on its
health port: an alert becomes a job the in-process worker finishes in the thread the bot
opened. A token without a port stops the bot before it connects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from bot.model import JobStatus
from bot.store.store import Store
from emulators.slack import SlackEmulator
from tests.conftest import REPO
from tests.slack.alertmanager_payload import alert, notification, post
from tests.slack.conftest import PAY, until
from tests.slack.test_cli import free_port

TOKEN = "am-cli-token-2b7d41"


def _env(database_url: str, policy: Path, slack: SlackEmulator, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_API_URL": slack.api_url,
        "STEADFAST_ALERTS_TOKEN": TOKEN,
        **extra,
    }


def _policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    document = {
        "version": 1,
        "tenants": {"payments": {"channels": [PAY]}},
        "alert_routes": [{"matchers": ['namespace="payments-prod"'], "channel": PAY}],
    }
    policy.write_text(yaml.safe_dump(document))
    return policy


@pytest.mark.slow
def test_socket_mode_bot_serves_alerts_on_the_health_port(
    slack: SlackEmulator, store: Store, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(database_url, _policy(tmp_path), slack, STEADFAST_HEALTH_PORT=str(port))
    log = (tmp_path / "bot.log").open("wb")
    steadfast = str(Path(sys.executable).parent / "steadfast")
    proc = subprocess.Popen(
        [steadfast, "run", "--mode", "socket", "--handler", "scripted"],
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

        until(healthy, timeout=60)
        assert proc.poll() is None, (tmp_path / "bot.log").read_text()
        url = f"http://127.0.0.1:{port}/alerts/alertmanager"
        assert post(url, notification(alert()), token="nope").status_code == 401
        firing = alert()
        firing["annotations"]["description"] = "steps=2 step_ms=1"  # the scripted handler's
        answer = post(url, notification(firing), token=TOKEN)
        assert answer.status_code == 202, answer.text
        [job_id] = answer.json()["created"]
        until(lambda: store.get(job_id).status == JobStatus.SUCCEEDED, 60)
        until(lambda: store.get(job_id).ticket.thread_ts is not None, 30)
        root = str(store.get(job_id).ticket.thread_ts)
        until(lambda: len(slack.messages(PAY, root)) >= 2, 30)  # the alert + its status
        assert "Alert firing" in slack.messages(PAY, root)[0]["text"]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'steadfast_alert_requests_total{code="202"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_a_token_without_a_port_refuses_to_start(
    slack: SlackEmulator, store: Store, database_url: str, tmp_path: Path
) -> None:
    """(`store`: the database is migrated, so the only thing wrong is the missing port.)"""
    env = _env(database_url, _policy(tmp_path), slack)
    env.pop("STEADFAST_HEALTH_PORT", None)
    env.pop("STEADFAST_ALERTS_PORT", None)
    steadfast = str(Path(sys.executable).parent / "steadfast")
    proc = subprocess.run(
        [steadfast, "bot", "--mode", "socket"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "STEADFAST_ALERTS_PORT or STEADFAST_HEALTH_PORT" in proc.stderr
