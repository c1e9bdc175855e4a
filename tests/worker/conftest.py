from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
LEASE_TTL = 1.0
# Ceiling for waits on events the tests expect within a few seconds: it only catches a hang, so it
# is many times the expected time and a busy machine never reaches it. Speed is measured in bench/.
HANG = 300.0  # only catches a hang, even with the machine under heavy load


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02
) -> T:
    """Poll `condition` until it returns something truthy, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(interval)


def worker_env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STEADFAST_DATABASE_URL=url,
        STEADFAST_HANDLER="scripted",
        STEADFAST_LEASE_TTL_SECONDS=str(LEASE_TTL),
        STEADFAST_HEARTBEAT_SECONDS="0.2",
        STEADFAST_REAP_SECONDS="0.1",
        STEADFAST_POLL_SECONDS="0.1",
        STEADFAST_MAX_ATTEMPTS="100",
        STEADFAST_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class Workers:
    """Real `python -m bot.cli worker` subprocesses, stopped (SIGKILL) at teardown."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, concurrency: int = 1) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--name", name, "-c", str(concurrency)],
            env=worker_env(self.url),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def started(self, name: str) -> bool:
        return f"worker {name} started" in self.log(name)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(database_url, tmp_path)
    yield w
    w.kill_all()


@pytest.fixture
def max_attempts() -> int:
    return 100
