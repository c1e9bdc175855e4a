"""The operator CLI, through typer's runner against real databases (subprocess variants live in
tests/worker/test_crash.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import build_app
from bot.handoff.model import Citation, Fact, Handoff, UnverifiedFact
from bot.model import JobStatus
from bot.store import Store
from bot.store.migrate import HEAD_REVISION
from tests.conftest import STATUS_RECORD_KEYS

pytestmark = pytest.mark.db


class Cli:
    def __init__(self, url: str) -> None:
        self.runner = CliRunner()
        self.app = build_app()
        self.env = {"STEADFAST_DATABASE_URL": url}

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = self.runner.invoke(self.app, list(args), env=self.env)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(database_url: str) -> Cli:
    c = Cli(database_url)
    assert f"schema: empty -> {HEAD_REVISION}" in c("db", "upgrade").stdout
    return c


def test_db_current(cli: Cli) -> None:
    assert cli.json("db", "current") == {"current": HEAD_REVISION, "head": HEAD_REVISION}
    assert "up to date" in cli("db", "current").stdout


def test_submit_is_idempotent_on_key(cli: Cli) -> None:
    first = cli.json("submit", "pods crashlooping", "--key", "T1:C1:1.0", "--channel", "C1")
    again = cli.json("submit", "pods crashlooping", "--key", "T1:C1:1.0")
    assert first["created"] is True and again == {**first, "created": False}
    assert "already exists" in cli("submit", "x", "--key", "T1:C1:1.0").stdout
    listed = [json.loads(line) for line in cli("jobs", "--json").stdout.splitlines()]
    assert [r["id"] for r in listed] == [first["id"]]


def test_empty_or_oversized_tickets_are_refused_and_nothing_is_queued(cli: Cli) -> None:
    from bot.model import MAX_TICKET_CHARS

    assert "empty" in cli("submit", "   ", code=2).stderr
    assert "limit" in cli("submit", "x" * (MAX_TICKET_CHARS + 1), code=2).stderr
    assert cli("jobs", "--json").stdout.strip() == ""


def test_show_record(cli: Cli) -> None:
    job = cli.json("submit", "vault 503", "--channel", "C9", "--tenant", "acme", "--user", "U1")
    record = cli.json("show", job["id"])
    assert record["id"] == job["id"] and record["status"] == "queued"
    for key in ("id", "status", *STATUS_RECORD_KEYS):
        assert key in record
    assert (record["tenant"], record["channel"], record["degraded"]) == ("acme", "C9", [])
    text = cli("show", job["id"]).stdout
    assert job["id"] in text and "queued" in text


def test_jobs_filter_and_table(cli: Cli) -> None:
    a = cli.json("submit", "first")
    b = cli.json("submit", "second")
    cli("cancel", b["id"], "--by", "ops", "--reason", "dup")
    queued = cli("jobs", "--status", "queued", "--json").stdout.splitlines()
    assert [json.loads(r)["id"] for r in queued] == [a["id"]]
    table = cli("jobs").stdout
    assert a["id"] in table and b["id"] in table and "cancelled" in table
    cli("jobs", "--status", "bogus", code=2)


def test_operator_actions_are_audited_and_illegal_ones_exit_1(cli: Cli) -> None:
    job = cli.json("submit", "x")["id"]
    assert cli.json("pause", job, "--by", "alice", "--reason", "look")["status"] == "paused"
    assert "resume -> queued" in cli("resume", job, "--by", "bob", "--reason", "go").stdout
    cli("cancel", job, "--by", "carol", "--reason", "dup")
    bad = cli("cancel", job, "--by", "carol", "--reason", "again", code=1)
    assert f"cannot cancel job {job}: it is cancelled" in bad.stderr
    assert cli.json("retry", job, "--by", "dave", "--reason", "redo")["status"] == "queued"
    events = [json.loads(line) for line in cli("replay", job, "--jsonl").stdout.splitlines()]
    assert all(set(e) == {"seq", "at", "kind", "data"} for e in events)
    audit = [
        (e["data"]["action"], e["data"]["by"], e["data"]["reason"])
        for e in events
        if e["kind"] == "operator_action"
    ]
    assert audit == [
        ("pause", "alice", "look"),
        ("resume", "bob", "go"),
        ("cancel", "carol", "dup"),
        ("retry", "dave", "redo"),
    ]
    timeline = cli("replay", job).stdout
    assert "ticket_received" in timeline and "cancel by carol: dup" in timeline


def test_operator_action_needs_a_reason(cli: Cli) -> None:
    job = cli.json("submit", "x")["id"]
    cli("cancel", job, code=2)
    assert cli.json("show", job)["status"] == "queued"


def test_unknown_job_is_one_line_and_exit_1(cli: Cli) -> None:
    for args in (["show", "nope"], ["replay", "nope"], ["cancel", "nope", "--reason", "r"]):
        result = cli(*args, code=1)
        assert (
            result.stderr.strip() == "error: no job with id 'nope'; list jobs with `steadfast jobs`"
        )


def test_worker_runs_jobs_until_idle(cli: Cli) -> None:
    job = cli.json("submit", "steps=2 step_ms=1")["id"]
    cli("worker", "--handler", "scripted", "--until-idle", "--name", "cli-w")
    record = cli.json("show", job)
    assert record["status"] == "succeeded" and record["verdict"] == "resolved"
    timeline = cli("replay", job).stdout
    assert "by cli-w" in timeline


def test_unknown_handler_is_a_clear_usage_error(cli: Cli) -> None:
    result = cli("worker", "--handler", "nope", code=2)
    assert "'nope' is not one of 'agent', 'scripted'" in result.stderr


def test_bad_database_url_is_a_clear_error() -> None:
    c = Cli("mysql://nobody@127.0.0.1/x")
    assert "unsupported database 'mysql'" in c("jobs", code=2).stderr


def test_empty_sqlite_file_is_migrated_automatically(sqlite_url: str) -> None:
    c = Cli(sqlite_url)
    assert c.json("submit", "first ticket")["created"] is True


def test_postgres_behind_schema_asks_for_db_upgrade(postgres_url: str) -> None:
    result = Cli(postgres_url)("jobs", code=1)
    assert "run `steadfast db upgrade` first" in result.stderr


@pytest.mark.slow
def test_console_entry_point(sqlite_url: str) -> None:
    env = {"STEADFAST_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "submit", "hello", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["created"] is True
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "show", "nope"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1


def test_an_integration_error_is_a_message_not_a_traceback(tmp_path) -> None:
    """A configuration mistake found while wiring the integrations is a message and exit 2."""
    env = {
        "STEADFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "STEADFAST_PLATFORM_APIS": json.dumps({"platform": "http://127.0.0.1:9"}),
        "STEADFAST_PLATFORM_API_AUTH": json.dumps({"platform": "basic:nope"}),
    }
    result = CliRunner().invoke(build_app(), ["doctor", "--json"], env=env)
    assert result.exit_code == 2, (result.stdout, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "must start with 'env:' or 'vault:'" in result.stderr


def test_every_package_error_has_the_one_root() -> None:
    from core.errors import SteadfastError
    from integrations.errors import IntegrationError
    from policy.errors import PolicyError
    from sandbox.errors import SandboxError

    for error in (IntegrationError, PolicyError, SandboxError):
        assert issubclass(error, SteadfastError)


def test_the_cli_handler_turns_an_integration_error_into_exit_1() -> None:
    """`IntegrationError` shares the root `SteadfastError`, so it no longer escapes the CLI's
    one error handler as a traceback."""
    import typer

    from bot.cli.common import errors_to_exit
    from integrations.errors import NotConfigured

    with pytest.raises(typer.Exit) as info, errors_to_exit():
        raise NotConfigured("Vault is not configured: set VAULT_ADDR")
    assert info.value.exit_code == 1


def test_show_and_replay_link_each_confirmed_fact_to_its_step(cli: Cli, store: Store) -> None:
    job = cli.json("submit", "checkout is slow")["id"]
    claimed = store.claim("w", lease_ttl=30)
    assert claimed is not None
    _, lease = claimed
    handoff = Handoff(
        job_id=job,
        verdict="escalated",
        summary="auth-api crash-loops",
        confirmed=[
            Fact(
                fact="auth-api is in CrashLoopBackOff",
                evidence=[Citation(tool_use_id="toolu_4", step=4, tool="k8s_list")],
            )
        ],
        not_verified=[UnverifiedFact(fact="logs show no errors", why="cited nothing")],
        could_not_reach=["logs:loki: HTTP 503"],
    )
    store.append(lease, "handoff", handoff.model_dump())
    store.finish(lease, JobStatus.ESCALATED, verdict="escalated")
    record = cli.json("show", job)["handoff"]
    assert record["confirmed"] == [
        {
            "fact": "auth-api is in CrashLoopBackOff",
            "evidence": [{"tool_use_id": "toolu_4", "step": 4, "tool": "k8s_list"}],
        }
    ]
    assert record["not_verified"][0]["why"] == "cited nothing"
    timeline = cli("replay", job).stdout
    assert "confirmed: auth-api is in CrashLoopBackOff · step 4, k8s_list" in timeline
    assert "not verified: logs show no errors (cited nothing)" in timeline
    assert "could not reach: logs:loki: HTTP 503" in timeline
