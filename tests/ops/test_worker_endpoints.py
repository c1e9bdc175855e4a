"""A real `steadfast worker` process serves the endpoints the chart's probes use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    url: str, status: int, deadline: float, proc: subprocess.Popen[bytes]
) -> httpx.Response:
    last: object = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"worker exited early with {proc.returncode}"
        try:
            r = httpx.get(url, timeout=1)
            if r.status_code == status:
                return r
            last = r.status_code
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.05)  # polling a condition with a deadline, not synchronising on time
    raise AssertionError(f"{url} never answered {status}; last: {last}")


@pytest.mark.slow
def test_worker_serves_probes_and_metrics_then_exits_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "STEADFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'steadfast.db'}",
        "STEADFAST_HEALTH_PORT": str(port),
    }
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    proc = subprocess.Popen(
        [*cli, "worker", "--handler", "scripted", "--concurrency", "1", "--name", "probe-test"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        assert wait_for(f"{base}/healthz", 200, deadline, proc).json() == {"status": "alive"}
        ready = wait_for(f"{base}/readyz", 200, deadline, proc).json()
        assert ready["checks"]["database"] == "ok"
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert "steadfast_claims_total" in text and "steadfast_queue_depth" in text

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
