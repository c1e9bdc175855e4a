"""`steadfast db prune`: only terminal jobs older than the cutoff go, with their events and
outbox rows; a dry run changes nothing; every deletion leaves an audit record."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import build_app
from bot.model import JobStatus, OperatorAction, OutboxPost, OutboxState, Ticket, outbox_key
from bot.store import Store
from bot.store.schema import job_events, jobs, outbox
from bot.store.store import utcnow

pytestmark = pytest.mark.db


def _age(store: Store, job_id: str, days: float) -> None:
    """Backdate a job's finish (tests only: nothing else may rewrite history)."""
    at = utcnow() - timedelta(days=days)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(jobs).where(jobs.c.id == job_id).values(finished_at=at, updated_at=at)
        )


def _cancelled(store: Store, text: str, days: float, **ticket: str) -> str:
    job, _ = store.submit(Ticket(text, **ticket))
    store.operator(job.id, OperatorAction.CANCEL, by="test", reason="setup")
    _age(store, job.id, days)
    return job.id


def _rows(store: Store, table: sa.Table, job_id: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.job_id == job_id)
        ).scalar_one()


def _with_post(store: Store, text: str, state: OutboxState) -> str:
    payload = {"channel": "C1", "text": "hi"}
    job, _ = store.submit(
        Ticket(text, channel="C1", ts=text),
        posts=lambda j: [OutboxPost(outbox_key(j.id, "ack"), "chat.postMessage", payload, "ack")],
    )
    if state != OutboxState.PENDING:
        store.outbox_mark(outbox_key(job.id, "ack"), state.value, ts="1.2", channel="C1")
    store.operator(job.id, OperatorAction.CANCEL, by="test", reason="setup")
    _age(store, job.id, 200)
    return job.id


def test_prune_takes_only_old_terminal_jobs_with_their_rows_and_audits(store: Store) -> None:
    old = _cancelled(store, "old", 120)
    recent = _cancelled(store, "recent", 10)
    queued, _ = store.submit(Ticket("still waiting"))
    with store.engine.begin() as conn:  # an old job that never finished stays, however old
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == queued.id)
            .values(created_at=utcnow() - timedelta(days=400))
        )
    sent = _with_post(store, "posted long ago", OutboxState.SENT)
    owing = _with_post(store, "post still owed", OutboxState.PENDING)
    old_events = _rows(store, job_events, old) + _rows(store, job_events, sent)
    cutoff = utcnow() - timedelta(days=90)

    plan = store.prune_plan(cutoff)
    assert sorted(plan.job_ids) == sorted([old, sent])
    assert plan.by_status == {JobStatus.CANCELLED.value: 2}
    assert plan.events == old_events and plan.outbox == 1
    assert plan.kept_owing_posts == 1 and not plan.deleted
    assert store.get(old).id == old  # the dry run changed nothing
    assert store.audit_records() == []

    done = store.prune(cutoff, actor="ops:alice")
    assert done.deleted and sorted(done.job_ids) == sorted([old, sent])
    remaining = {j.id for j in store.list_jobs(limit=100)}
    assert remaining == {recent, queued.id, owing}
    for gone in (old, sent):
        assert _rows(store, job_events, gone) == 0 and _rows(store, outbox, gone) == 0
    assert _rows(store, outbox, owing) == 1 and _rows(store, job_events, recent) > 0

    [record] = store.audit_records()
    assert record["actor"] == "ops:alice" and record["action"] == "db_prune"
    assert record["jobs"] == 2 and record["events"] == old_events and record["outbox"] == 1
    assert record["at"] == done.audit["at"]
    # A second prune finds nothing and says so in its own audit record.
    assert store.prune(cutoff, actor="ops:bob").job_ids == []
    assert [r["actor"] for r in store.audit_records()] == ["ops:bob", "ops:alice"]


def test_prune_command_is_a_dry_run_until_yes(store: Store, database_url: str) -> None:
    old = _cancelled(store, "old", 100)
    keep = _cancelled(store, "new", 1)
    app, runner, env = build_app(), CliRunner(), {"STEADFAST_DATABASE_URL": database_url}

    dry = runner.invoke(app, ["db", "prune", "--older-than", "90d"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 job(s)" in dry.stdout and "add --yes" in dry.stdout
    assert store.get(old).status == JobStatus.CANCELLED

    args = ["db", "prune", "--older-than", "90d", "--yes", "--by", "cron", "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["deleted"] and record["job_ids"] == [old]
    assert record["audit"]["actor"] == "cron"
    assert [j.id for j in store.list_jobs(limit=10)] == [keep]

    audit = runner.invoke(app, ["db", "audit", "--json"], env=env)
    assert [r["actor"] for r in json.loads(audit.stdout)] == ["cron"]
    assert "cron  db_prune: 1 job(s)" in runner.invoke(app, ["db", "audit"], env=env).stdout


@pytest.mark.parametrize("age", ["90", "0d", "ninety days", "-5d", "3y"])
def test_a_bad_age_is_a_usage_error_before_the_database(age: str, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'never.db'}"
    result = CliRunner().invoke(
        build_app(), ["db", "prune", "--older-than", age], env={"STEADFAST_DATABASE_URL": url}
    )
    assert result.exit_code == 2
    # rich draws the error in a box and wraps it: compare the words only.
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert "90d, 12h, 2w or 30m" in words
    assert not (tmp_path / "never.db").exists()
