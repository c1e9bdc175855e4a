"""The executor: argv only, clean environment, fixed PATH, timeout, output cap, bwrap."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from policy.document import Limits
from sandbox.errors import ExecutionRefused, SandboxError
from sandbox.executor import DEFAULT_SEARCH_PATH, Executor
from sandbox.gate import Decision, Gate

FORKER_SLEEP = f"30.{os.getpid()}"  # unique, so the test can find exactly its own children
LIMITS = Limits(command_timeout_seconds=10, output_cap_bytes=4096)
# bwrap from the system or from the tools cache (`.cache/tools/bin`), when it can run here
SEARCH = (*DEFAULT_SEARCH_PATH, Path(__file__).resolve().parents[2] / ".cache" / "tools" / "bin")
MODES = [False]
if Executor(LIMITS, search_path=SEARCH).describe()["mode"] == "bwrap":
    MODES.append(True)


def allowed(*stages: list[str], merge: list[bool] | None = None) -> Decision:
    return Decision(
        allowed=True,
        rule="test",
        reason="test",
        argv=[list(s) for s in stages],
        merge_stderr=merge or [False] * len(stages),
    )


def script(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    # PATH inside is the executor's fixed directory, so scripts name their tools in full
    script(d, "forker", f"/bin/sleep {FORKER_SLEEP} &\n/bin/sleep {FORKER_SLEEP} &\nwait")
    script(d, "loud", "echo out; echo err >&2; exit 3")
    script(d, "showfile", '/bin/cat "$CONFIG_FILE"')
    script(
        d,
        "writer",
        '/usr/bin/touch /usr/steadfast-probe 2>/dev/null || echo "read-only"\n'
        "/bin/grep NoNewPrivs /proc/self/status\n"
        "/bin/ls -A /tmp | /usr/bin/wc -l",
    )
    return d


@pytest.fixture(params=MODES, ids=lambda m: "bwrap" if m else "plain")
def executor(request: pytest.FixtureRequest, bin_dir: Path) -> Executor:
    ex = Executor(LIMITS, bin_dir=bin_dir, search_path=SEARCH, sandbox=request.param)
    request.addfinalizer(ex.close)
    return ex


def test_describe_reports_the_mode_and_path(executor: Executor) -> None:
    info = executor.describe()
    assert info["mode"] in ("bwrap", "plain")
    assert Path(info["path_dir"]).is_dir()
    assert info["search_path"][0].endswith("/bin")


def test_plain_mode_is_reported_with_a_reason(bin_dir: Path) -> None:
    with Executor(LIMITS, bin_dir=bin_dir, sandbox=False) as ex:
        info = ex.describe()
        result = ex.run(allowed(["echo", "hi"]))
    assert info["mode"] == "plain" and info["reason"]
    assert result.stdout == "hi\n" and result.sandboxed is False


def test_arguments_reach_the_program_without_a_shell(executor: Executor, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"$(touch {marker}); `touch {marker}` && touch {marker} | * ~"
    result = executor.run(allowed(["echo", text]))
    assert result.exit_code == 0
    assert result.stdout == text + "\n"
    assert not marker.exists()


def test_pipeline_stages_are_joined_by_pipes(executor: Executor) -> None:
    result = executor.run(allowed(["printf", "b\\na\\nb\\n"], ["sort"], ["uniq", "-c"]))
    assert [line.split() for line in result.stdout.splitlines()] == [["1", "a"], ["2", "b"]]


def test_exit_code_and_stderr_are_captured(executor: Executor) -> None:
    result = executor.run(allowed(["loud"]))
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    merged = executor.run(allowed(["loud"], ["sort"], merge=[True, False]))
    assert merged.stdout == "err\nout\n" and merged.stderr == ""
    assert merged.exit_code == 3  # the failing stage's code is not hidden by the filter


def test_stdin_is_empty(executor: Executor) -> None:
    result = executor.run(allowed(["wc", "-c"]))
    assert result.stdout.strip() == "0"


@pytest.mark.slow
def test_timeout_kills_the_whole_pipeline(bin_dir: Path) -> None:
    for mode in MODES:
        with Executor(
            Limits(command_timeout_seconds=0.5), bin_dir=bin_dir, search_path=SEARCH, sandbox=mode
        ) as ex:
            started = time.monotonic()
            result = ex.run(allowed(["forker"], ["sort"]))
            assert result.timed_out
            assert time.monotonic() - started < 5
            assert "timeout" in result.stderr
            deadline = time.monotonic() + 5
            while _sleepers() and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a condition: the kernel reaps asynchronously
            assert not _sleepers(), "background children survived the timeout"


def _sleepers() -> list[int]:
    """Live (non-zombie) processes running our unique sleep, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if FORKER_SLEEP.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_output_is_capped_with_a_marker(executor: Executor) -> None:
    started = time.monotonic()
    result = executor.run(allowed(["yes", "steadfast"]))
    assert result.truncated and not result.timed_out
    assert time.monotonic() - started < 5  # stopped at the cap, not at the timeout
    body, _, marker = result.stdout.rpartition("\n[output truncated")
    assert len(body.encode()) <= LIMITS.output_cap_bytes
    assert "4096 bytes" in marker


def test_environment_is_clean_and_path_is_fixed(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEADFAST_CANARY", "leaked")
    result = executor.run(allowed(["env"]))
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(env) - {"PWD"} == {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"}  # bwrap sets PWD
    assert env["PATH"] == executor.describe()["path_dir"]
    assert sorted(os.listdir(env["PATH"])) == ["env"]  # only programs actually run
    assert all(os.path.islink(os.path.join(env["PATH"], n)) for n in os.listdir(env["PATH"]))


def test_credentials_go_to_the_first_stage_only_and_are_redacted(executor: Executor) -> None:
    token = "hvs.super-secret-token"
    first = executor.run(allowed(["env"]), env={"VAULT_TOKEN": token})
    assert "VAULT_TOKEN=[redacted]" in first.stdout and token not in first.stdout
    later = executor.run(allowed(["true"], ["env"]), env={"VAULT_TOKEN": token})
    assert "VAULT_TOKEN" not in later.stdout


def test_files_are_written_to_a_private_workdir(executor: Executor) -> None:
    result = executor.run(
        allowed(["showfile"]),
        env={"CONFIG_FILE": "{workdir}/kubeconfig"},
        files={"kubeconfig": b"apiVersion: v1\n"},
    )
    assert result.stdout == "apiVersion: v1\n"


@pytest.mark.parametrize("key", ["PATH", "LD_PRELOAD", "HOME", "BASH_ENV", "bad name"])
def test_dangerous_environment_is_refused(executor: Executor, key: str) -> None:
    with pytest.raises(ExecutionRefused):
        executor.run(allowed(["true"]), env={key: "x"})


def test_a_denied_decision_is_refused(executor: Executor) -> None:
    denied = Decision(allowed=False, rule="kubectl delete", reason="no")
    with pytest.raises(SandboxError, match="refusing to run a denied command"):
        executor.run(denied)
    with pytest.raises(ExecutionRefused):
        executor.run(allowed(["/bin/sh", "-c", "id"]))
    with pytest.raises(ExecutionRefused):
        executor.run(Decision(allowed=True, rule="x", reason="x", argv=[]))


def test_a_missing_program_is_exit_127(executor: Executor) -> None:
    result = executor.run(allowed(["no-such-program-here"]))
    assert result.exit_code == 127 and "not installed" in result.stderr


@pytest.mark.skipif(True not in MODES, reason="bwrap cannot run on this host")
def test_bwrap_filesystem_is_read_only_with_a_private_tmp(bin_dir: Path) -> None:
    with Executor(LIMITS, bin_dir=bin_dir, search_path=SEARCH, sandbox=True) as ex:
        result = ex.run(allowed(["writer"]))
    assert result.sandboxed
    assert "read-only" in result.stdout
    assert "NoNewPrivs:\t1" in result.stdout
    assert not Path("/usr/steadfast-probe").exists()
    # /tmp inside holds only the bind-mounted PATH dir and working directory
    assert int(result.stdout.split()[-1]) <= 3


def test_gate_and_executor_together(gate: Gate) -> None:
    decision = gate.check_command("date -u +%Y | wc -c")
    with Executor(LIMITS) as ex:
        result = ex.run(decision)
    assert result.exit_code == 0 and result.stdout.strip() == "5"


def test_scrub_cleans_the_producer_output_before_the_filters(executor: Executor) -> None:
    seen: list[str] = []

    def scrub(text: str) -> str:
        seen.append(text)
        return text.replace("s3cr3t-value", "[redacted:x]")

    result = executor.run(
        allowed(["echo", "key=s3cr3t-value"], ["tr", "a-z", "n-za-m"]), scrub=scrub
    )
    assert result.exit_code == 0, result.stderr
    assert seen[0] == "key=s3cr3t-value\n"  # the producer's own output, before tr ran
    assert result.stdout == "xrl=[erqnpgrq:k]\n"  # tr saw only the scrubbed text
    assert "f3pe3g" not in result.stdout


def test_scrubbed_pipeline_keeps_the_timeout_and_the_cap(bin_dir: Path) -> None:
    script(bin_dir, "slow", "/bin/sleep 30")
    script(bin_dir, "flood", "/usr/bin/yes")
    limits = Limits(command_timeout_seconds=0.5, output_cap_bytes=1000)
    with Executor(limits, bin_dir=bin_dir, search_path=SEARCH) as ex:
        slow = ex.run(allowed(["slow"], ["wc", "-c"]), scrub=lambda t: t)
        flood = ex.run(allowed(["flood"], ["head", "-c", "5000"]), scrub=lambda t: t)
    assert slow.timed_out and slow.stdout == "" and "timeout" in slow.stderr
    assert flood.truncated and len(flood.stdout.encode()) < 1100
    assert "input to the filters truncated" in flood.stderr


def test_kubectl_gets_the_executors_kubeconfig_and_never_its_own(
    bin_dir: Path, tmp_path: Path
) -> None:
    script(bin_dir, "kubectl", 'for a in "$@"; do echo "$a"; done')
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")
    with Executor(LIMITS, bin_dir=bin_dir, search_path=SEARCH, kubeconfig=config) as ex:
        result = ex.run(allowed(["kubectl", "get", "pods"]))
        assert result.stdout.split() == [f"--kubeconfig={config}", "get", "pods"]
        for chosen in ("--kubeconfig=/x", "--server=http://a", "-s", "--token", "--as=admin"):
            with pytest.raises(ExecutionRefused, match="cluster or identity"):
                ex.run(allowed(["kubectl", "get", "pods", chosen]))
