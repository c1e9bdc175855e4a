"""The runner: a real `steadfast runner` subprocess on a Unix socket, the protocol's refusals,
what commands in it can and cannot see, and kubectl reading the Kubernetes emulator through
the kubeconfig the runner was given."""

from __future__ import annotations

import copy
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.scrubber import Scrubber
from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from policy.document import Policy
from policy.loader import SHIPPED_POLICY, load_policy
from sandbox.executor import DEFAULT_SEARCH_PATH, Executor
from sandbox.gate import Decision
from sandbox.runner import (
    JudgedCommand,
    LocalRunner,
    RunnerConfig,
    RunnerError,
    RunnerServer,
    RunnerService,
)
from sandbox.runner_protocol import MAX_FRAME_BYTES, recv_json
from tests.conftest import REPO

CACHED_TOOLS = REPO / ".cache" / "tools" / "bin"
POD = "auth-api-7c9d8f6b5-x2k9p"
WORKER_SECRET = "worker-only-canary-7d41c0ffee"
# Programs a buggy policy might let through: a file reader and an echo. The runner, not the
# gate, must keep the worker's files and environment out of their reach.
LEAKY_PROGRAMS = {
    "cat": {"role": "source", "positionals": {"max": 1}},
    "echo": {"role": "source", "positionals": {"max": 2}},
}


def leaky_policy(tmp_path: Path) -> Path:
    policy = yaml.safe_load(SHIPPED_POLICY.read_text())
    policy["commands"]["deny_programs"].pop("cat", None)
    policy["commands"]["programs"].update(copy.deepcopy(LEAKY_PROGRAMS))
    path = tmp_path / "leaky-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def bwrap_works() -> bool:
    search = (*DEFAULT_SEARCH_PATH, CACHED_TOOLS)
    with Executor(load_policy(SHIPPED_POLICY).limits, search_path=search) as ex:
        return ex.describe()["mode"] == "bwrap"


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": server}}],
                "users": [{"name": "reader", "user": {}}],
                "contexts": [{"name": "ro", "context": {"cluster": "emulator", "user": "reader"}}],
                "current-context": "ro",
            }
        )
    )
    return path


@pytest.fixture
def kube() -> Iterator[KubernetesEmulator]:
    scenario = copy.deepcopy(load_scenario())
    # kubectl sends credentials only over TLS; the emulator speaks plain HTTP on loopback
    scenario["cluster"]["tokens"] = []
    with KubernetesEmulator(scenario) as emulator:
        yield emulator  # type: ignore[misc]


def runner_env(policy: Path, kubeconfig_path: Path | None, sandbox: str) -> dict[str, str]:
    env = {
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_RUNNER_SANDBOX": sandbox,
        "STEADFAST_LOG_LEVEL": "WARNING",
    }
    if CACHED_TOOLS.is_dir():
        env["STEADFAST_RUNNER_BIN_DIR"] = str(CACHED_TOOLS)
    if kubeconfig_path is not None:
        env["STEADFAST_RUNNER_KUBECONFIG"] = str(kubeconfig_path)
    return env


def worker_environ() -> dict[str, str]:
    """What the worker process has: its own PATH etc. plus credentials the runner must not."""
    return {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-" + WORKER_SECRET,
        "STEADFAST_DATABASE_URL": f"postgresql://sf:{WORKER_SECRET}@db/sf",
        "WORKER_CANARY": WORKER_SECRET,
    }


def run(runner: LocalRunner, policy: Policy, command: str, tenant: str | None = "acme") -> Any:
    decision = runner.decide(policy, command, tenant)
    assert decision.allowed, decision
    return runner.execute(policy, decision)


# --- the runner subprocess -----------------------------------------------------------------


@pytest.mark.slow
def test_runner_environment_holds_none_of_the_workers_variables(tmp_path: Path) -> None:
    policy_path = leaky_policy(tmp_path)
    policy = load_policy(policy_path)
    runner = LocalRunner(runner_env(policy_path, None, "off"), environ=worker_environ())
    try:
        # even a plain (non-bwrap) runner: its own process environment is clean
        own = run(runner, policy, f"cat /proc/{runner.process.pid}/environ")
        assert own.exit_code == 0, own.stderr
        assert "STEADFAST_POLICY" in own.stdout  # it did read the runner's environment
        assert WORKER_SECRET not in own.stdout
        assert "ANTHROPIC_API_KEY" not in own.stdout and "DATABASE_URL" not in own.stdout
        # and commands start with the executor's clean environment
        env = run(runner, policy, "cat /proc/self/environ")
        names = {kv.split("=", 1)[0] for kv in env.stdout.split("\0") if kv}
        assert names <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"}
    finally:
        runner.close()


@pytest.mark.slow
def test_worker_files_and_environment_are_invisible_and_kubectl_reads_the_emulator(
    tmp_path: Path, kube: KubernetesEmulator
) -> None:
    if not bwrap_works():
        # `make tools` caches bwrap; CI (STEADFAST_REQUIRE_TOOLS=1) must run this test
        if os.environ.get("STEADFAST_REQUIRE_TOOLS") == "1":
            pytest.fail("bwrap cannot run here; `make tools` should have cached it")
        pytest.skip("bwrap cannot run on this host")
    worker_file = tmp_path / "worker-only.txt"
    worker_file.write_text(WORKER_SECRET)
    policy_path = leaky_policy(tmp_path)
    policy = load_policy(policy_path)
    config = kubeconfig(tmp_path / "runner-kubeconfig", kube.url)
    runner = LocalRunner(runner_env(policy_path, config, "require"), environ=worker_environ())
    try:
        described = runner.client.describe()
        assert described["mode"] == "bwrap" and described["kubeconfig"] == str(config)

        seen = run(runner, policy, f"cat {worker_file}")
        assert seen.sandboxed and seen.exit_code != 0
        assert WORKER_SECRET not in seen.stdout + seen.stderr
        assert "No such file" in seen.stderr

        # the worker (this process) is not even a process the command can name
        environ = run(runner, policy, f"cat /proc/{os.getpid()}/environ")
        assert environ.exit_code != 0 and WORKER_SECRET not in environ.stdout
        assert run(runner, policy, "cat /var/run/secrets/kubernetes.io").exit_code != 0

        pods = run(runner, policy, "kubectl get pods -n acme-prod")
        assert pods.exit_code == 0, pods.stderr
        assert POD in pods.stdout
        listed = run(runner, policy, "kubectl get pods -o name | grep auth-api")
        assert listed.stdout.strip() == f"pod/{POD}"
        paths = [r.path for r in kube.requests]
        assert any(p.startswith("/api/v1/namespaces/acme-prod/pods") for p in paths)
        assert {r.method for r in kube.requests} == {"GET"}
    finally:
        runner.close()


@pytest.mark.slow
def test_kubectl_uses_the_runners_kubeconfig_and_never_the_models(
    tmp_path: Path, kube: KubernetesEmulator
) -> None:
    policy = load_policy(SHIPPED_POLICY)
    config = kubeconfig(tmp_path / "runner-kubeconfig", kube.url)
    runner = LocalRunner(runner_env(SHIPPED_POLICY, config, "auto"), environ=worker_environ())
    try:
        pods = run(runner, policy, "kubectl get pods -n acme-prod")
        if "not installed" in pods.stderr:
            pytest.skip("kubectl is not installed")
        assert pods.exit_code == 0 and POD in pods.stdout, pods.stderr
        for flag in ("--kubeconfig=/tmp/x", "--server=http://evil", "--token=t", "--as=admin"):
            for flag_form in (flag, flag.replace("=", " ", 1)):
                refused = runner.decide(policy, f"kubectl get pods {flag_form}", "acme")
                assert not refused.allowed, flag_form
        # a worker whose gate was fooled still cannot get the runner to run it
        forged = JudgedCommand(
            True,
            "forged",
            "forged",
            argv=[["kubectl", "--server=http://127.0.0.1:1", "get", "pods"]],
            merge_stderr=[False],
            command="kubectl get pods --server=http://127.0.0.1:1",
            tenant="acme",
        )
        with pytest.raises(RunnerError, match="refuses"):
            runner.execute(policy, forged)
    finally:
        runner.close()


@pytest.mark.slow
def test_producer_output_is_scrubbed_before_a_filter_transforms_it(tmp_path: Path) -> None:
    policy_path = leaky_policy(tmp_path)
    policy = load_policy(policy_path)
    runner = LocalRunner(runner_env(policy_path, None, "auto"), environ=worker_environ())
    try:
        url = "postgres://app:hunter2secretvalue@db.acme-prod.svc/app"
        result = run(runner, policy, f"echo {url} | tr a-z n-za-m")
        assert result.exit_code == 0, result.stderr
        rot13 = "uhagre2frperginyhr"  # hunter2secretvalue, rot13
        assert rot13 not in result.stdout
        assert result.stdout.startswith("cbfgterf://")  # tr did run on the scrubbed text
    finally:
        runner.close()


def test_a_runner_refuses_to_start_holding_a_secret(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import build_app

    env = {
        "STEADFAST_RUNNER_SOCKET": str(tmp_path / "r.sock"),
        "VAULT_TOKEN": "hvs.secret-of-the-worker",
    }
    result = CliRunner().invoke(build_app(), ["runner"], env=env)
    assert result.exit_code == 1
    assert "VAULT_TOKEN" in result.output and "hvs.secret" not in result.output


# --- the protocol, against a server in this process ----------------------------------------


class _Served:
    def __init__(self, tmp_path: Path, policy: Policy) -> None:
        config = RunnerConfig(socket_path=tmp_path / "sock" / "runner.sock", sandbox=False)
        self.server = RunnerServer(RunnerService(config, lambda: policy, Scrubber().scrub))
        self.path = config.socket_path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def raw(self, payload: bytes) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(str(self.path))
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            return recv_json(conn)

    def send(self, message: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(message).encode()
        return self.raw(struct.pack(">I", len(body)) + body)


@pytest.fixture
def served(tmp_path: Path, shipped: Policy) -> Iterator[_Served]:
    s = _Served(tmp_path, shipped)
    yield s
    s.server.shutdown()


def _request(command: str, argv: list[list[str]], **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "op": "run",
        "command": command,
        "tenant": "acme",
        "argv": argv,
        "merge_stderr": [False] * len(argv),
        **extra,
    }


def test_a_request_matching_the_runners_verdict_runs(served: _Served) -> None:
    answer = served.send(_request("date -u +%Y", [["date", "--utc", "+%Y"]]))
    assert answer["ok"] is True, answer
    assert answer["result"]["exit_code"] == 0 and answer["result"]["stdout"].strip().isdigit()


@pytest.mark.parametrize(
    ("message", "kind", "words"),
    [
        # the worker's argv differs from what the runner's gate makes of the text
        (_request("date -u +%Y", [["date", "--utc", "+%Y", "--set=1"]]), "refused", "different"),
        # the text itself is refused by the runner's gate
        (
            _request("kubectl delete pod x", [["kubectl", "delete", "pod", "x"]]),
            "refused",
            "gate refuses",
        ),
        (_request("date -u", [["date", "--utc"]], extra_key=1), "protocol", "malformed"),
        ({"version": 1, "op": "exec", "command": "x"}, "protocol", "unknown op"),
        ({**_request("date", [["date"]]), "version": 2}, "protocol", "malformed"),
        ({**_request("date", [["date"]]), "argv": "date"}, "protocol", "malformed"),
    ],
)
def test_disagreement_and_malformed_requests_are_refused(
    served: _Served, message: dict[str, Any], kind: str, words: str
) -> None:
    answer = served.send(message)
    assert answer["ok"] is False and answer["error"]["kind"] == kind, answer
    assert words in answer["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack(">I", MAX_FRAME_BYTES + 1),  # oversized frame header
        struct.pack(">I", 5) + b"[1,2]",  # not an object
        struct.pack(">I", 4) + b"\xff\xfe{}",  # not UTF-8
        struct.pack(">I", 100) + b"{}",  # closed mid-frame
    ],
)
def test_bad_frames_are_protocol_errors(served: _Served, payload: bytes) -> None:
    answer = served.raw(payload)
    assert answer["ok"] is False and answer["error"]["kind"] == "protocol"


def test_the_client_refuses_a_decision_it_did_not_make(tmp_path: Path, shipped: Policy) -> None:
    from sandbox.runner import RunnerClient

    client = RunnerClient(tmp_path / "none.sock")
    plain = Decision(True, "x", "x", argv=[["date"]], merge_stderr=[False])
    with pytest.raises(RunnerError, match="only an allowed decision"):
        client.execute(shipped, plain)
    judged = client.decide(shipped, "date -u", None)
    with pytest.raises(RunnerError, match="did not answer"):
        client.execute(shipped, judged)


@pytest.mark.slow
def test_a_local_runner_dies_with_the_worker_that_started_it(tmp_path: Path) -> None:
    """A worker SIGKILLed mid-run leaves no runner behind: the runner's stdin closes."""
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from sandbox.runner import LocalRunner\n"
        f"r = LocalRunner({{'STEADFAST_POLICY': {str(SHIPPED_POLICY)!r}}}, environ=os.environ)\n"
        "print(r.process.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert worker.stdout is not None
        runner_pid = int(worker.stdout.readline())
        worker.kill()
        worker.wait()
        # the runner is our grandchild: poll its /proc entry until it is gone (or a zombie
        # reaped by init); the ceiling only catches a hang
        deadline = time.monotonic() + 30
        while Path(f"/proc/{runner_pid}").exists():
            status = Path(f"/proc/{runner_pid}/status")
            if status.exists() and "State:\tZ" in status.read_text():
                break
            assert time.monotonic() < deadline, "the runner outlived its worker"
            threading.Event().wait(0.05)
    finally:
        if worker.poll() is None:
            worker.kill()
        for stream in (worker.stdin, worker.stdout):
            if stream is not None:
                stream.close()
