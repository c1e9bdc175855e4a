"""Fixtures for the sandbox tests: the shipped policy, a gate on it, small policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy.document import Policy
from policy.loader import SHIPPED_POLICY, load_policy
from sandbox.gate import Gate

HERE = Path(__file__).resolve().parent


def corpus(name: str) -> list[dict[str, Any]]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def shipped() -> Policy:
    return load_policy(SHIPPED_POLICY)


@pytest.fixture(scope="session")
def gate(shipped: Policy) -> Gate:
    return Gate(shipped)
