"""Helpers for tests that run real `steadfast` worker and CLI subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.agent.conftest import POLICY

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
# Ceiling for waits on worker processes: it only catches a hang, many times the expected time, so
# a busy machine never reaches it (speed is measured in bench/, see docs/testing.md).
HANG = 240.0
# Variables from the developer's shell that would point the worker at real systems.
_SCRUB_ENV = ("VAULT_ADDR", "VAULT_TOKEN", "KUBECONFIG", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(0.02)


def write_policy(tmp: Path, **overrides: Any) -> Path:
    """The shipped command rules with the test's tenants, layers, approvals and budgets."""
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    for key in ("tenants", "layers", "approvals", "budgets", "kubernetes", "vault"):
        data[key] = POLICY[key]
    data.update(overrides)
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def env(url: str, model_url: str, policy: Path, **extra: str) -> dict[str, str]:
    e = {
        k: v
        for k, v in os.environ.items()
        if k not in _SCRUB_ENV and not k.startswith("STEADFAST_")
    }
    e.update(
        STEADFAST_DATABASE_URL=url,
        STEADFAST_POLICY=str(policy),
        STEADFAST_HANDLER="agent",
        ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=model_url,
        STEADFAST_LEASE_TTL_SECONDS="1",
        STEADFAST_HEARTBEAT_SECONDS="0.2",
        STEADFAST_REAP_SECONDS="0.1",
        STEADFAST_POLL_SECONDS="0.05",
        STEADFAST_MAX_ATTEMPTS="20",
        STEADFAST_MODEL_RETRY_BASE_SECONDS="0.01",
    )
    e.update(extra)
    return e


class Procs:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker", "--name", name, *args],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=HANG,
        )

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
