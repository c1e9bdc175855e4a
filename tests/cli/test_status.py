"""A running job whose worker is gone says so everywhere, before any reaper runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.model import Ticket
from bot.slack.home import job_line
from bot.store import Store
from tests.cli.test_cli import Cli
from tests.worker.conftest import wait_until

pytestmark = pytest.mark.db


def test_lease_expired_with_no_worker_running_is_shown(store: Store, database_url: str) -> None:
    job, _ = store.submit(Ticket("checkout is down", channel="C1"))
    claimed = store.claim("w-gone", lease_ttl=2.0)
    assert claimed is not None
    _, lease = claimed
    store.append(lease, "model_request", {"step": 3, "model": "m"})
    store.append(lease, "tool_call", {"tool_use_id": "t1", "name": "k8s_logs", "layer": "logs"})
    cli = Cli(database_url)
    fresh = cli.json("show", job.id)
    assert fresh["lease_expired"] is False and fresh["status"] == "running"
    # nobody renews and no reaper runs: the lease simply runs out
    wait_until(lambda: datetime.now(UTC) > lease.expires_at, 10, "the lease expires", interval=0.05)

    record = cli.json("show", job.id)
    assert record["status"] == "running"
    assert record["lease_expired"] is True and record["lease_expired_seconds"] >= 0
    assert (record["current_step"], record["layer"]) == (3, "logs")
    assert "running · lease expired" in cli("show", job.id).stdout
    assert "running ·" in cli("jobs").stdout  # the table may wrap the rest of the cell
    assert [
        r["lease_expired"] for r in map(json.loads, cli("jobs", "--json").stdout.split("\n")[:1])
    ] == [True]
    assert "lease expired" in job_line(store, store.get(job.id))
    # the reaper then does its job and the display follows the row
    assert store.reap() == [job.id]
    assert cli.json("show", job.id)["lease_expired"] is False
