"""In-process stand-ins for the job core's context, the sandbox and the integrations."""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.handoff.model import Handoff
from bot.model import Event, Job, JobStatus, Ticket
from integrations.outcome import Degraded, Ok
from policy.document import Policy


class Crash(BaseException):
    """A simulated worker death at a step boundary. Not an `Exception`: like SIGKILL, nothing
    in the loop may catch it."""


def make_job(text: str, *, job_id: str | None = None, channel: str = "C1") -> Job:
    now = datetime.now(UTC)
    job_id = job_id or f"job-{uuid.uuid4().hex[:10]}"
    return Job(
        id=job_id,
        idempotency_key=None,
        ticket=Ticket(text=text, channel=channel, user="U1"),
        status=JobStatus.RUNNING,
        attempts=1,
        max_attempts=5,
        fence=1,
        lease_owner="w",
        lease_expires_at=None,
        control=None,
        created_at=now,
        started_at=now,
        finished_at=None,
        updated_at=now,
        last_event_at=None,
        last_error=None,
        verdict=None,
        event_count=0,
    )


class FakeContext:
    """A JobContext over a list; data round-trips through JSON like the store's."""

    def __init__(
        self,
        job: Job,
        events: list[Event] | None = None,
        *,
        crash_at: int | None = None,
        clock_offset: timedelta | None = None,
    ):
        self._job = job
        self._events = events if events is not None else []
        self.crash_at = crash_at  # raise Crash at this checkpoint number
        self.checkpoints = 0
        self.holds = 0  # hold_lease calls (one before every model request)
        self.clock_offset = clock_offset or timedelta()
        if not self._events:
            self.append("ticket_received", {"text": job.ticket.text})
        self.append("claimed", {"worker": "w"})

    @property
    def job(self) -> Job:
        return self._job

    @property
    def events(self) -> list[Event]:
        return self._events

    @property
    def worker_name(self) -> str:
        return "fake"

    def append(self, kind: str, data: dict[str, Any] | None = None) -> Event:
        event = Event(
            job_id=self._job.id,
            seq=len(self._events) + 1,
            at=datetime.now(UTC) + self.clock_offset,
            kind=kind,
            data=json.loads(json.dumps(data or {})),
        )
        self._events.append(event)
        return event

    def append_many(self, items: list[tuple[str, dict[str, Any]]]) -> list[Event]:
        return [self.append(kind, data) for kind, data in items]

    def checkpoint(self) -> None:
        self.checkpoints += 1
        if self.crash_at is not None and self.checkpoints >= self.crash_at:
            raise Crash(f"crash at checkpoint {self.checkpoints}")

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        pass

    def hold_lease(self) -> None:
        self.holds += 1

    def resume(self, *, crash_at: int | None = None) -> FakeContext:
        """The next worker's context over the same events (and the same clock)."""
        return FakeContext(
            self._job, self._events, crash_at=crash_at, clock_offset=self.clock_offset
        )

    def kinds(self) -> list[str]:
        return [e.kind for e in self._events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self._events if e.kind == kind]


@dataclass
class RecordingNotifier:
    progress_texts: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)

    def progress(self, ctx: Any, progress: Any) -> None:
        self.progress_texts.append(progress.text)

    def question(self, ctx: Any, question: str) -> None:
        self.questions.append(question)

    def handoff(self, ctx: Any, handoff: Handoff) -> None:
        self.handoffs.append(handoff)


@dataclass
class Decision:
    allowed: bool
    rule: str | None
    reason: str
    hint: str
    argv: list[str]


@dataclass
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str = ""
    truncated: bool = False
    timed_out: bool = False
    duration_s: float = 0.01
    sandboxed: bool = True


class FakeSandbox:
    """Allows `kubectl get|logs|describe`; refuses anything else like the real gate would."""

    def __init__(self) -> None:
        self.executed: list[list[str]] = []

    def decide(self, policy: Policy, command: str, tenant: str | None) -> Decision:
        argv = shlex.split(command)
        if argv[:1] == ["kubectl"] and len(argv) > 1 and argv[1] in ("get", "logs", "describe"):
            return Decision(True, "kubectl.read", "", "", argv)
        return Decision(
            False,
            "kubectl.delete",
            f"`{' '.join(argv[:2])}` changes cluster state and this agent is read-only",
            "inspect with `kubectl get` or `kubectl describe` instead",
            argv,
        )

    def execute(self, policy: Policy, decision: Decision) -> ExecResult:
        self.executed.append(decision.argv)
        return ExecResult(0, "NAME READY STATUS\ncheckout-1 0/1 CrashLoopBackOff\n")


class FakeKubernetes:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def list(self, resource: str, namespace: str, tenant: str | None, **kw: Any) -> Any:
        self.calls.append(("list", (resource, namespace)))
        return Ok([{"name": "checkout-1", "status": "CrashLoopBackOff", "restarts": 12}])

    def get(self, resource: str, name: str, namespace: str, tenant: str | None) -> Any:
        self.calls.append(("get", (resource, namespace, name)))
        return Ok({"name": name})

    def logs(self, pod: str, namespace: str, tenant: str | None, **kw: Any) -> Any:
        self.calls.append(("logs", (namespace, pod)))
        return Ok("panic: DB_URL not set\n" * 3)

    def rollout_status(self, deployment: str, namespace: str, tenant: str | None) -> Any:
        self.calls.append(("rollout_status", (namespace, deployment)))
        return Ok({"deployment": deployment, "updated": 3, "available": 2})


class FakeHttp:
    def __init__(self, body: str = '{"status": "degraded"}') -> None:
        self.body = body
        self.calls: list[str] = []

    def get(self, url: str, tenant: str | None) -> Any:
        self.calls.append(url)
        return Ok({"status": 200, "body": self.body})


class FakeLogs:
    stores = {"loki": None}

    def __init__(self) -> None:
        self.calls: list[str] = []

    def query(self, store: str, query: str, tenant: str | None, **kw: Any) -> Any:
        self.calls.append(query)
        return Ok([{"line": "error: connection refused (password=hunter2secret)"}])


class FakeVault:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.calls = 0

    def check_credentials(self, tenant: str) -> Any:
        self.calls += 1
        if self.down:
            return Degraded("vault", "connection refused after 3 tries", retryable=True)
        return Ok(
            {"tenant": tenant, "paths": {"secret/acme/db": {"status": "ok", "keys": ["url"]}}}
        )
