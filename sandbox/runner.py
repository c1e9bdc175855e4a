"""The runner: the only place model-chosen commands run, away from the worker's secrets.

The worker judges a command with the gate, then asks the runner over a Unix socket
(`sandbox.runner_protocol`) to run it. The runner judges the same text again with its own
policy and runs it only when both verdicts allow the very same argv; it then runs each stage
itself (`Executor` with a scrub function), so a producer's output is scrubbed before any
filter sees it. The runner's process holds no secrets: in production it is a second container
of the worker pod with only a read-only kubeconfig; locally it is a subprocess started with a
clean environment (`LocalRunner`).

    RunnerService   judge + run one request (no sockets; unit-testable)
    RunnerServer    a threaded Unix-socket server around a RunnerService
    RunnerClient    the worker's side: `decide` locally, `execute` over the socket
    LocalRunner     start `steadfast runner` as a subprocess and wait until it listens
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from policy.document import Policy
from sandbox.errors import SandboxError
from sandbox.executor import ExecResult, Executor
from sandbox.gate import Decision, Gate
from sandbox.runner_protocol import (
    DescribeRequest,
    ErrorBody,
    ProtocolError,
    Response,
    RunRequest,
    parse_request,
    parse_response,
    recv_json,
    send_frame,
)

log = logging.getLogger(__name__)

# Variables that carry Steadfast's own credentials. A runner whose environment holds one of
# them is not the secret-free process it claims to be, so it refuses to start.
SECRET_ENV = (
    "ANTHROPIC_API_KEY",
    "STEADFAST_ANTHROPIC_API_KEY",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "STEADFAST_SLACK_BOT_TOKEN",
    "STEADFAST_SLACK_APP_TOKEN",
    "STEADFAST_SLACK_SIGNING_SECRET",
    "VAULT_TOKEN",
    "STEADFAST_VAULT_TOKEN",
    "STEADFAST_VAULT_SECRET_ID",
    "STEADFAST_DATABASE_URL",
)
# `STEADFAST_RUNNER_SANDBOX` → `RunnerConfig.sandbox`
SANDBOX_CHOICES: dict[str, bool | None] = {"auto": None, "require": True, "off": False}
# What a local runner inherits from the worker: enough to start Python, nothing else.
_PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "TZ")


class RunnerError(SandboxError):
    """The runner refused a request or could not be reached; the message says which."""


@dataclass(frozen=True)
class RunnerConfig:
    """What `steadfast runner` needs. `kubeconfig` is the only credential it ever holds."""

    socket_path: Path
    kubeconfig: Path | None = None
    bin_dir: Path | None = None
    sandbox: bool | None = None  # None: bwrap when it works; True: required; False: never


class RunnerService:
    """Judges and runs requests. `policy` is called per request so a reload takes effect at
    the next command; the executor is rebuilt when the policy's limits change."""

    def __init__(
        self,
        config: RunnerConfig,
        policy: Callable[[], Policy],
        scrub: Callable[[str], str],
    ) -> None:
        self.config = config
        self._policy = policy
        self._scrub = scrub
        self._lock = threading.Lock()
        self._executor: Executor | None = None

    def executor(self, policy: Policy) -> Executor:
        with self._lock:
            if self._executor is None or self._executor.limits != policy.limits:
                if self._executor is not None:
                    self._executor.close()
                self._executor = Executor(
                    policy.limits,
                    bin_dir=self.config.bin_dir,
                    sandbox=self.config.sandbox,
                    kubeconfig=self.config.kubeconfig,
                )
            return self._executor

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.close()
                self._executor = None

    def handle(self, data: dict[str, Any]) -> Response:
        """One request in, one response out; never raises."""
        try:
            request = parse_request(data)
            if isinstance(request, DescribeRequest):
                return Response(ok=True, result=self.describe())
            return Response(ok=True, result=asdict(self.run(request)))
        except ProtocolError as exc:
            return _error("protocol", str(exc))
        except SandboxError as exc:  # RunnerError, ExecutionRefused: a refusal to report
            return _error("refused", str(exc))
        except Exception as exc:  # a bug here must not take the runner down
            log.exception("runner: request failed")
            return _error("internal", f"{type(exc).__name__}: {exc}")

    def run(self, request: RunRequest) -> ExecResult:
        policy = self._policy()
        decision = Gate(policy).check_command(request.command, request.tenant)
        if not decision.allowed:
            raise RunnerError(
                f"the runner's gate refuses this command ({decision.rule}): {decision.reason}"
            )
        if decision.argv != request.argv or _merges(decision) != request.merge_stderr:
            raise RunnerError(
                "the runner's gate judged this command to a different argv than the worker's; "
                "refusing (are both on the same policy?)"
            )
        return self.executor(policy).run(decision, scrub=self._scrub)

    def describe(self) -> dict[str, Any]:
        report = self.executor(self._policy()).describe()
        report["mount_namespace"] = mount_namespace()
        report["pid"] = os.getpid()
        return report


def _merges(decision: Decision) -> list[bool]:
    return list(decision.merge_stderr or [False] * len(decision.argv))


def _error(kind: str, message: str) -> Response:
    return Response(ok=False, error=ErrorBody(kind=kind, message=message))  # type: ignore[arg-type]


def mount_namespace() -> str:
    """This process's mount namespace ('mnt:[4026531841]'), '' where /proc does not say.
    Two processes in one namespace see the same files."""
    try:
        return os.readlink("/proc/self/ns/mnt")
    except OSError:
        return ""


class RunnerServer:
    """Serves a `RunnerService` on a Unix socket, one thread per connection."""

    def __init__(self, service: RunnerService, *, mode: int = 0o660) -> None:
        self.service = service
        path = service.config.socket_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a socket left by a runner that was killed

        outer = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve_one(self.request)

        class _Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self._server = _Server(str(path), _Handler)
        path.chmod(mode)

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            data = recv_json(conn)
        except ProtocolError as exc:
            response = _error("protocol", str(exc))
        except OSError:
            return
        else:
            response = self.service.handle(data)
        with contextlib.suppress(OSError):
            send_frame(conn, response)

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.service.config.socket_path.unlink()
        self.service.close()


@dataclass(frozen=True)
class JudgedCommand(Decision):
    """A decision that remembers what it judged: the runner judges the same text again."""

    command: str = ""
    tenant: str | None = None


class RunnerClient:
    """The worker's `CommandSandbox`: judge locally (the model gets the gate's answer), run
    in the runner (which judges again). Every failure is a `RunnerError`."""

    def __init__(self, socket_path: Path, *, timeout_margin_seconds: float = 15.0) -> None:
        self.socket_path = socket_path
        self._margin = timeout_margin_seconds

    def decide(self, policy: Policy, command: str, tenant: str | None) -> Decision:
        decision = Gate(policy).check_command(command, tenant)
        return JudgedCommand(**vars(decision), command=command, tenant=tenant)

    def execute(self, policy: Policy, decision: Decision) -> ExecResult:
        if not isinstance(decision, JudgedCommand) or not decision.allowed:
            raise RunnerError("only an allowed decision from RunnerClient.decide can be run")
        request = RunRequest(
            command=decision.command,
            tenant=decision.tenant,
            argv=decision.argv,
            merge_stderr=_merges(decision),
        )
        result = self._call(request, policy.limits.command_timeout_seconds + self._margin)
        try:
            return ExecResult(**result)
        except TypeError as exc:
            raise RunnerError(f"the runner answered a malformed result: {exc}") from exc

    def describe(self, timeout: float = 10.0) -> dict[str, Any]:
        return self._call(DescribeRequest(), timeout)

    def _call(self, request: RunRequest | DescribeRequest, timeout: float) -> dict[str, Any]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout)
                conn.connect(str(self.socket_path))
                send_frame(conn, request)
                response = parse_response(recv_json(conn))
        except (OSError, ProtocolError) as exc:
            raise RunnerError(f"the runner at {self.socket_path} did not answer: {exc}") from exc
        if response.error is not None:
            raise RunnerError(
                f"the runner refused ({response.error.kind}): {response.error.message}"
            )
        assert response.result is not None
        return response.result

    def close(self) -> None:
        """Nothing to release: one connection per request."""


class LocalRunner:
    """`steadfast runner` as a subprocess of this one, for the demo, tests and single-host
    installs. Its environment is built from scratch: no variable of ours reaches it except the
    few that start Python and the runner's own settings (`env`)."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        python: str = sys.executable,
        environ: Mapping[str, str],
        ready_timeout: float = 30.0,
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="steadfast-runner-"))
        self.socket_path = self._dir / "runner.sock"
        clean = {k: v for k, v in environ.items() if k in _PASS_THROUGH}
        clean.update({"HOME": str(self._dir), "PYTHONUNBUFFERED": "1", **env})
        clean["STEADFAST_RUNNER_SOCKET"] = str(self.socket_path)
        # stdin is the runner's lifeline: when this process dies, even by SIGKILL, the pipe
        # closes and the runner exits instead of living on as an orphan.
        self.process = subprocess.Popen(
            [python, "-m", "bot.cli", "runner", "--exit-with-stdin"],
            env=clean,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the runner's log goes where ours goes
            start_new_session=True,  # a ^C to the worker reaches the runner via close()
        )
        self._wait_ready(ready_timeout)
        self.client = RunnerClient(self.socket_path)

    # The worker's `CommandSandbox`, through the client.
    def decide(self, policy: Policy, command: str, tenant: str | None) -> Decision:
        return self.client.decide(policy, command, tenant)

    def execute(self, policy: Policy, decision: Decision) -> ExecResult:
        return self.client.execute(policy, decision)

    def _wait_ready(self, timeout: float) -> None:
        """The runner prints one line once its socket listens; wait for it (or its exit)."""
        assert self.process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith(b"runner listening"):
            self.close()
            raise RunnerError(
                f"the local runner did not start within {timeout:g} s "
                f"(exit code {self.process.poll()}); see its log above"
            )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()
        with contextlib.suppress(OSError):
            self._dir.rmdir()


def secret_env_present(environ: Mapping[str, str], names: Sequence[str] = SECRET_ENV) -> list[str]:
    """The credential variables set in `environ` (a runner must have none)."""
    return sorted(n for n in names if environ.get(n))
