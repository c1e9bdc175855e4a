"""An eval run is durable: its cases are jobs in a store, tagged as evals, and a run killed
with SIGKILL finishes with `steadfast eval --resume RUN` without running a finished case again
or asking the model again for a step it already answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from bot.errors import StoreError
from bot.evals.case import CASES_DIR, find_cases
from bot.evals.manifest import Manifest, database_for, save, storable_url
from bot.evals.model import EVAL_CHANNEL, EvalError, EvalKey, EvalOptions
from bot.evals.report import totals
from bot.evals.runner import SETTLED, run_cases
from bot.model import EventKind, Ticket
from bot.store import Store
from bot.store.schema import outbox
from tests.agent.acceptance import wait_until

CASES = ("bad-credential", "oomkilled")
# Every model answer takes this long: once the second case has one answer recorded, its
# handoff is at least four answers away, so the kill lands mid-run however slow the machine.
LATENCY_MS = 1500
HANG = 600.0  # ceilings only catch hangs
EVAL = (sys.executable, "-m", "bot.cli", "eval")


def _slow_cases(directory: Path) -> Path:
    directory.mkdir()
    for name in CASES:
        raw = yaml.safe_load((CASES_DIR / f"{name}.yaml").read_text())
        raw.setdefault("anthropic", {})["latency_ms"] = LATENCY_MS
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return directory


def _eval(args: list[str], tmp_path: Path, name: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "STEADFAST_"))}
    with (tmp_path / f"{name}.out").open("w") as out, (tmp_path / f"{name}.err").open("w") as err:
        return subprocess.Popen(
            [*EVAL, "--state-dir", str(tmp_path / "state"), *args],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )


def _comparable(report_totals: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report_totals.items() if k not in ("wall_seconds",)}


@pytest.mark.slow
def test_a_killed_eval_resumes_and_scores_every_case_once(tmp_path: Path) -> None:
    cases_dir = _slow_cases(tmp_path / "cases")
    db = tmp_path / "state" / "runs" / "crash.db"
    first = _eval(
        [
            *("--cases", ",".join(CASES), "--cases-dir", str(cases_dir), "--run-id", "crash"),
            *("--parallel", "1", "--out", str(tmp_path / "first.json")),
        ],
        tmp_path,
        "first",
    )
    store = Store(f"sqlite:///{db}")
    try:

        def one_done_one_mid_run() -> tuple[str, str] | None:
            try:
                jobs = store.list_jobs()
            except StoreError:  # the store is still being created and migrated
                return None
            if len(jobs) != len(CASES):
                return None
            done = [j for j in jobs if j.status in SETTLED]
            running = [
                j
                for j in jobs
                if j.status not in SETTLED
                and any(e.kind == EventKind.MODEL_RESPONSE for e in store.events(j.id))
            ]
            return (done[0].id, running[0].id) if done and running else None

        finished, interrupted = wait_until(
            one_done_one_mid_run, HANG, "one case finished and the other mid-run"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(HANG)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(HANG)
    assert store.get(interrupted).status not in SETTLED, "the kill came after the second case"
    before = {job_id: store.events(job_id) for job_id in (finished, interrupted)}
    answered_before = {
        e.data["step"] for e in before[interrupted] if e.kind == EventKind.MODEL_RESPONSE
    }

    second = _eval(
        ["--resume", "crash", "--json", "--out", str(tmp_path / "resumed.json")], tmp_path, "second"
    )
    assert second.wait(HANG) == 0, (tmp_path / "second.err").read_text()
    report = json.loads((tmp_path / "second.out").read_text().strip().splitlines()[-1])

    # every case scored once, by the run it belongs to
    assert report["run_id"] == "crash"
    assert sorted(c["case"] for c in report["cases"]) == sorted(CASES)
    assert all(c["score"]["total"] == 100 for c in report["cases"]), report["cases"]
    # the finished case was reused as it was: not claimed, not asked again
    assert [e.seq for e in store.events(finished)] == [e.seq for e in before[finished]]
    # the interrupted one resumed from its events: no answered step was asked for again
    after = store.events(interrupted)
    assert any(e.kind == EventKind.RESUMED for e in after)
    responses = [e.data["step"] for e in after if e.kind == EventKind.MODEL_RESPONSE]
    assert sorted(responses) == list(range(1, len(responses) + 1)), responses
    new = after[len(before[interrupted]) :]
    asked_again = {e.data["step"] for e in new if e.kind == EventKind.MODEL_REQUEST}
    assert not asked_again & answered_before
    results = Counter(e.data.get("tool_use_id") for e in after if e.kind == EventKind.TOOL_RESULT)
    assert all(n == 1 for n in results.values()), results

    # eval jobs only, tagged, and nothing queued for Slack
    for job in store.list_jobs():
        key = EvalKey.parse(job.idempotency_key)
        assert key is not None and key.run_id == "crash"
        assert job.ticket.channel == EVAL_CHANNEL
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0
    engine.dispose()
    store.close()

    # the same figures as a run nobody killed
    clean = run_cases(
        find_cases(",".join(CASES), cases_dir), EvalOptions(workdir=tmp_path, parallel=2)
    )
    assert _comparable(report["totals"]) == _comparable(totals(clean))


def test_an_eval_refuses_a_database_with_other_jobs(database_url: str) -> None:
    """Its worker claims whatever is queued: a real ticket must never be investigated in an
    emulated world, so a store with one is refused before anything is submitted."""
    store = Store(database_url)
    store.upgrade()
    try:
        store.submit(Ticket(text="checkout is down", channel="C0REAL"), key="T1:C0REAL:1.0")
        with pytest.raises(EvalError, match="not an eval job"):
            run_cases(find_cases("healthy"), EvalOptions(run_id="r1"), store=store)
        assert len(store.list_jobs()) == 1
    finally:
        store.close()


def test_another_runs_unfinished_jobs_are_not_taken_over(database_url: str) -> None:
    store = Store(database_url)
    store.upgrade()
    try:
        other = EvalKey("older", "healthy", 1)
        store.submit(Ticket(text="t", channel=EVAL_CHANNEL, tenant="acme"), key=str(other))
        with pytest.raises(EvalError, match="steadfast eval --resume older"):
            run_cases(find_cases("healthy"), EvalOptions(run_id="newer"), store=store)
    finally:
        store.close()


def test_eval_keys_round_trip() -> None:
    key = EvalKey("20261202-1551-ab12", "logs-down-oomkilled", 3)
    assert str(key) == "eval:20261202-1551-ab12:logs-down-oomkilled:3"
    assert EvalKey.parse(str(key)) == key
    for other in (None, "T1:C1:1.0", "eval:x", "eval:x:case:notanumber"):
        assert EvalKey.parse(other) is None


def test_a_run_id_means_one_question(tmp_path: Path) -> None:
    first = Manifest(run_id="r1", cases=["a"], cases_dir="/c", repeat=1, scripted=True)
    save(tmp_path, first)
    save(tmp_path, first.model_copy())  # the same command again: fine
    with pytest.raises(EvalError, match="--resume r1"):
        save(tmp_path, first.model_copy(update={"repeat": 3}))
    with pytest.raises(EvalError, match="not usable"):
        save(tmp_path, first.model_copy(update={"run_id": "../escape"}))


def test_a_database_password_is_never_kept(tmp_path: Path) -> None:
    url = "postgresql+psycopg://evals:hunter2@db.example/evals"
    kept = storable_url(url)
    assert "hunter2" not in kept
    manifest = Manifest(
        run_id="r2", cases=["a"], cases_dir="/c", repeat=1, scripted=True, database=kept
    )
    with pytest.raises(EvalError, match="pass --database again"):
        database_for(manifest, tmp_path, None)
    assert database_for(manifest, tmp_path, url) == url
    assert storable_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.slow
def test_a_run_in_a_database_of_its_own_reuses_it_when_run_again(
    database_url: str, tmp_path: Path
) -> None:
    """`--database` (SQLite or PostgreSQL): the same command again finds the finished job
    and scores it without running it."""
    from typer.testing import CliRunner

    from bot.cli import build_app

    migrating = Store(database_url)
    migrating.upgrade()  # PostgreSQL moves only by `steadfast db upgrade`
    migrating.close()
    args = [
        *("eval", "--cases", "healthy", "--run-id", "own-db", "--database", database_url),
        *("--state-dir", str(tmp_path / "state"), "--json", "--out", str(tmp_path / "r.json")),
    ]
    env = {"ANTHROPIC_API_KEY": "", "STEADFAST_ANTHROPIC_API_KEY": ""}
    first = CliRunner().invoke(build_app(), args, env=env)
    assert first.exit_code == 0, first.output
    store = Store(database_url)
    try:
        [job] = store.list_jobs()
        seen = len(store.events(job.id))
        again = CliRunner().invoke(build_app(), args, env=env)
        assert again.exit_code == 0, again.output
        assert len(store.events(job.id)) == seen
        assert store.list_jobs() == [job]
        assert store.outbox_backlog() == (0, None)
    finally:
        store.close()
    reports = [json.loads(r.stdout.strip().splitlines()[-1]) for r in (first, again)]
    assert [r["cases"][0]["job_id"] for r in reports] == [job.id, job.id]
    assert _comparable(reports[0]["totals"]) == _comparable(reports[1]["totals"])
