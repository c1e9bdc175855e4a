"""The handoff-truth matrix: the demo world with every combination of its four sources up or
failing, investigated by scripted models that lie, through the real agent, integrations and
store. Each cell records what the system made of the lies; `tests/agent/test_handoff_truth.py`
checks every cell and `bench/bench_handoff_truth.py` prints the table in docs/benchmarks.md.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.agent.factory import build_agent_for_worker
from bot.demo.scenario import deep_merge
from bot.demo.stack import TICKET_CHANNEL, Stack, demo_scenario, settings_for
from bot.handoff.model import Handoff
from bot.model import Event, EventKind, Ticket
from bot.settings import Settings
from bot.store import Store, open_store
from bot.worker.context import LeasedContext, Run

# emulator → the dependency name its failures carry in the ledger
SOURCES = {
    "platform": "http:platform",
    "kubernetes": "kubernetes",
    "loki": "logs:loki",
    "vault": "vault",
}
REFERENCE_JOB_TEXT = "truth-matrix reference: instance i-123 for tenant acme"

_CALLS = [
    {
        "text": "Platform first.",
        "tool": "http_get",
        "input": {"url": "platform:/v1/instances/i-123"},
    },
    {"tool": "k8s_list", "input": {"resource": "pods", "namespace": "acme-prod"}},
    {
        "tool": "query_logs",
        "input": {"query": '{tenant="acme", level="error"}', "since_minutes": 60},
    },
    {"tool": "check_tenant_credentials", "input": {}},
]
# One fact per source, as a model would word it whatever the source answered.
_CLAIMS = {
    "platform": "the platform API reports instance i-123 healthy",
    "kubernetes": "kubernetes: all pods in acme-prod are ready",
    "loki": "Loki shows no errors for acme",
    "vault": "Vault: the tenant's credentials resolve",
}


def _liar(name: str, match: str, submit: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "match": match,
        "steps": [*_CALLS, {"tool": "submit_handoff", "input": submit}],
    }


def liars(reference_job: str) -> dict[str, dict[str, Any]]:
    """Scripted models that claim `resolved` with full confidence and an empty
    could_not_reach, each lying another way about their evidence."""
    per_source = [
        {"fact": _CLAIMS[src], "evidence": [f"{{{{step {i}}}}}"]}
        for i, src in enumerate(SOURCES, start=1)
    ]
    base = {
        "verdict": "resolved",
        "summary": "All fine.",
        "could_not_reach": [],
        "confidence": 0.99,
    }
    claims = list(_CLAIMS.values())
    # cites its own calls, whatever they returned (failed calls included)
    own = per_source
    # cites its calls crosswise: each claim backed by another source's call
    wrong = [
        {"fact": c, "evidence": [f"{{{{step {(i % 4) + 1}}}}}"]}
        for i, c in enumerate(claims, start=1)
    ]
    # cites a successful call of another job for every claim
    foreign = [
        {"fact": c, "evidence": [f"{{{{step {i} of {reference_job}}}}}"]}
        for i, c in enumerate(claims, start=1)
    ]
    # confirms every source with no citation at all
    bare = [{"fact": c} for c in claims]
    return {
        "cites-own-calls": {**base, "confirmed": own},
        "cites-wrong-calls": {**base, "confirmed": wrong},
        "cites-another-job": {**base, "confirmed": foreign},
        "cites-nothing": {**base, "confirmed": bare},
        "all-at-once": {**base, "confirmed": own + wrong + foreign + bare},
    }


def fault_combinations() -> list[tuple[str, ...]]:
    """Every subset of the sources, from none failing to all failing."""
    names = list(SOURCES)
    return [c for n in range(len(names) + 1) for c in itertools.combinations(names, n)]


def expected_failures(failing: tuple[str, ...]) -> set[str]:
    """The dependencies that fail when `failing` emulators are broken. The platform API's
    token is read from Vault, so a Vault outage fails the platform calls too."""
    failed = {SOURCES[name] for name in failing}
    if "vault" in failing:
        failed.add(SOURCES["platform"])
    return failed


@dataclass
class Cell:
    failing: tuple[str, ...]
    liar: str
    status: str
    handoff: Handoff
    events: list[Event]

    def ledger_dependencies(self) -> set[str]:
        """The dependencies named by the handoff's could_not_reach lines."""
        found: set[str] = set()
        for line in self.handoff.could_not_reach:
            found.update(dep for dep in SOURCES.values() if line.startswith(f"{dep}:"))
        return found


class TruthMatrix:
    """The demo world's emulators, one store, and a way to run one cell at a time."""

    def __init__(self, stack: Stack, settings: Settings, store: Store) -> None:
        self.stack = stack
        self.settings = settings
        self.store = store
        self._cells = 0

    @classmethod
    @contextmanager
    def open(cls, workdir: Path | None = None) -> Iterator[TruthMatrix]:
        workdir = workdir or Path(tempfile.mkdtemp(prefix="steadfast-truth-"))
        reference = _liar(
            "reference",
            "truth-matrix reference",
            {"verdict": "inconclusive", "summary": "reference run", "confidence": 0.5},
        )
        world = deep_merge(
            demo_scenario(),
            # the demo's Vault times out on acme's secrets; here "up" must mean up
            {"vault": {"timeout_paths": []}, "anthropic": {"scripts": [reference]}},
        )
        stack = Stack.start(world)
        try:
            env = stack.settings_env(
                database_url=f"sqlite:///{workdir / 'truth.db'}", workdir=workdir
            )
            settings = settings_for(env)
            store = open_store(settings)
            try:
                matrix = cls(stack, settings, store)
                # a job whose successful calls the liars cite as if they were their own
                matrix.reference = matrix._run(REFERENCE_JOB_TEXT, ())
                stack.anthropic.scripts.extend(
                    _liar(name, f"truth-matrix {name}:", submit)
                    for name, submit in liars(matrix.reference.handoff.job_id).items()
                )
                yield matrix
            finally:
                store.close()
        finally:
            stack.stop()

    reference: Cell

    def run(self, failing: tuple[str, ...], liar: str) -> Cell:
        self._cells += 1
        text = f"truth-matrix {liar}: cell {self._cells}, instance i-123 for tenant acme"
        return self._run(text, failing, liar=liar)

    def _run(self, text: str, failing: tuple[str, ...], *, liar: str = "") -> Cell:
        for name in SOURCES:
            emulator = getattr(self.stack, name)
            if name in failing:
                emulator.faults.set("503")
            else:
                emulator.faults.clear()
        job, _ = self.store.submit(Ticket(text=text, channel=TICKET_CHANNEL, tenant="acme"))
        claimed = self.store.claim_with_history("truth-matrix", lease_ttl=300)
        assert claimed is not None and claimed[0].id == job.id
        job, lease, history = claimed
        run = Run(job, lease, history)
        ctx = LeasedContext(
            self.store,
            run,
            history,
            worker_name="truth-matrix",
            shutdown=threading.Event(),
            lease_ttl=300,
        )
        agent = build_agent_for_worker(self.settings, None, environ=dict(os.environ))
        try:
            result = agent.run(ctx)
        finally:
            agent.close()
        self.store.finish(run.lease, result.status, verdict=result.verdict)
        for name in SOURCES:
            getattr(self.stack, name).faults.clear()
        events = self.store.events(job.id)
        [recorded] = [e for e in events if e.kind == EventKind.HANDOFF][-1:]
        return Cell(
            failing=failing,
            liar=liar,
            status=result.status.value,
            handoff=Handoff.model_validate(recorded.data),
            events=events,
        )
