"""`steadfast policy check|explain|schema` and `steadfast sandbox doctor`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import build_app
from tests.conftest import REPO


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("STEADFAST_POLICY", raising=False)
    runner = CliRunner()
    app = build_app()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args))

    return invoke


def test_check_accepts_the_shipped_policy(run) -> None:  # type: ignore[no-untyped-def]
    result = run("policy", "check", str(REPO / "policies" / "default.yaml"))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_check_rejects_with_file_line_column(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nlimits:\n  output_cap: 5\n")
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3:3" in result.output and "unknown key" in result.output


def test_explain_allowed_and_denied(run) -> None:  # type: ignore[no-untyped-def]
    ok = run("policy", "explain", "--tenant", "acme", "kubectl get pods")
    assert ok.exit_code == 0 and "ALLOWED" in ok.output
    no = run("policy", "explain", "kubectl delete pod api-0")
    assert no.exit_code == 1
    assert "DENIED" in no.output and "read-only" in no.output


def test_explain_json(run) -> None:  # type: ignore[no-untyped-def]
    result = run("policy", "explain", "--json", "--tenant", "acme", "kubectl logs -p api-0")
    record = json.loads(result.output)
    assert result.exit_code == 0
    assert record["command"] == "kubectl logs -p api-0"
    assert record["allowed"] is True
    assert record["argv"] == [["kubectl", "--namespace=acme-prod", "logs", "--previous", "api-0"]]


def test_explain_with_a_broken_policy_is_exit_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    result = run("policy", "explain", "--policy", str(bad), "date")
    assert result.exit_code == 2 and "empty" in result.output


def test_explain_needs_a_command_or_a_batch(run) -> None:  # type: ignore[no-untyped-def]
    assert run("policy", "explain").exit_code == 2


def test_batch_keeps_order_and_exit_code(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "corpus.jsonl"
    commands = ["kubectl get pods", "kubectl delete pod x", "curl -s http://a.b.svc/"]
    batch.write_text("\n".join(json.dumps({"command": c}) for c in commands) + "\n\n")
    result = run("policy", "explain", "--json", "--batch", str(batch))
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["command"] for r in records] == commands
    assert [r["allowed"] for r in records] == [True, False, True]
    assert all({"command", "allowed", "rule", "reason", "hint"} <= set(r) for r in records)

    batch.write_text(json.dumps({"command": "kubectl get pods"}) + "\n")
    assert run("policy", "explain", "--json", "--batch", str(batch)).exit_code == 0


def test_batch_with_a_bad_line_is_exit_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "corpus.jsonl"
    batch.write_text('{"command": "date"}\nnot json\n')
    result = run("policy", "explain", "--json", "--batch", str(batch))
    assert result.exit_code == 2 and ":2:" in result.output


def test_schema_check(run) -> None:  # type: ignore[no-untyped-def]
    assert run("policy", "schema", "--check").exit_code == 0


def test_sandbox_doctor(run) -> None:  # type: ignore[no-untyped-def]
    result = run("sandbox", "doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] in ("bwrap", "plain")
    assert "kubectl" in report["programs"]


@pytest.mark.slow
def test_the_installed_command_runs_a_corpus(tmp_path: Path) -> None:
    batch = tmp_path / "corpus.jsonl"
    batch.write_text(
        (REPO / "tests" / "sandbox" / "corpus_denied.jsonl").read_text(encoding="utf-8")
    )
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "policy", "explain",
         "--json", "--tenant", "acme", "--batch", str(batch)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == len(batch.read_text().splitlines())
    assert not any(r["allowed"] for r in records)
