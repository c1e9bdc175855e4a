"""A real worker subprocess logs JSON lines that carry the job's fields and no secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.model import JobStatus, Ticket
from bot.store import Store
from tests.worker.conftest import HANG, REPO, wait_until, worker_env

pytestmark = [pytest.mark.db]

SECRET = "sk-ant-api03-Zq8Lr2Vx9Nw4Kt7Bm1Pc6Hs3Jd5Fg0"


def test_worker_json_lines_carry_job_fields_and_no_secret(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # The ticket pastes the API key; the scripted handler logs the ticket text.
    job, _ = store.submit(Ticket(f"steps=2 step_ms=1 key {SECRET}", tenant="acme"))
    log_path = tmp_path / "w.log"
    env = worker_env(
        database_url,
        STEADFAST_LOG_FORMAT="json",
        STEADFAST_LOG_LEVEL="DEBUG",
        STEADFAST_ANTHROPIC_API_KEY=SECRET,
    )
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--name", "wj", "--until-idle"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert proc.wait(timeout=HANG) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_until(lambda: store.get(job.id).status == JobStatus.SUCCEEDED, HANG, "job done")
    text = log_path.read_text()
    assert SECRET not in text and SECRET[12:30] not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines, text
    in_job = [r for r in lines if r.get("job_id") == job.id]
    assert any("scripted run of" in r["message"] for r in in_job), text
    assert any(r.get("step") == "1" for r in in_job), text  # "step 1 of 2 done", after step 1
    for record in in_job:
        assert record["tenant"] == "acme" and record["worker"] == "wj"
        assert {"time", "level", "logger", "message"} <= record.keys()
    started = next(r for r in lines if "worker wj started" in r["message"])
    assert "job_id" not in started  # outside a job no job fields
