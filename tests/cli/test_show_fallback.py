"""`steadfast show` says when a job's steps went to the fallback provider, and why."""

from __future__ import annotations

import pytest

from bot.model import Ticket
from bot.store import Store
from tests.cli.test_cli import Cli

pytestmark = pytest.mark.db


def test_show_prints_the_model_fallback(store: Store, database_url: str) -> None:
    job, _ = store.submit(Ticket("checkout is down", channel="C1"))
    claimed = store.claim("w", lease_ttl=30.0)
    assert claimed is not None
    _, lease = claimed
    fallback = {
        "step": 2,
        "provider": "bedrock",
        "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "from_provider": "anthropic",
        "from_model": "claude-sonnet-5-5",
        "cause": "model API HTTP 529: Overloaded",
        "kind": "overloaded",
        "status": 529,
    }
    store.append(lease, "model_fallback", fallback)
    cli = Cli(database_url)
    assert cli.json("show", job.id)["model_fallback"] == fallback
    line = next(x for x in cli("show", job.id).stdout.splitlines() if "model_fallback" in x)
    assert "step 2 went to bedrock anthropic.claude-sonnet-4-5-20250929-v1:0" in line
    assert "anthropic claude-sonnet-5-5 stayed unavailable" in line
    replay = cli("replay", job.id).stdout
    assert "model_fallback" in replay and "went to bedrock" in replay
