"""What a handoff may call confirmed, decided from the job's events and nothing the model says.

`Evidence.from_events` reads the job's log once: every tool call the model made (its step and
tool), whether it succeeded, and every dependency that failed or was refused. `Evidence.check`
then sorts the model's claimed facts: a fact stays confirmed only when at least one of its
citations is a successful call of this job that is not older than the drift window; any other
fact moves to *Not verified* with the reason. Pure: no store, no clock of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.handoff.model import Citation, Fact, UnverifiedFact
from bot.model import Event

# Calls whose result is the agent's own bookkeeping, not something read from a source.
NOT_SOURCES = frozenset({"note_assumption", "submit_handoff"})
# Which family of dependency (the part of its name before ":") each tool reads.
TOOL_FAMILY = {
    "http_get": "http",
    "k8s_list": "kubernetes",
    "k8s_get": "kubernetes",
    "k8s_logs": "kubernetes",
    "k8s_rollout_status": "kubernetes",
    "query_logs": "logs",
    "check_tenant_credentials": "vault",
    "run_command": "sandbox",
}


@dataclass
class CallRecord:
    """One tool call of the job, as its events tell it."""

    tool_use_id: str
    step: int
    tool: str
    at: datetime | None = None  # when its result was recorded; None: no result
    failure: str | None = None  # why it does not count as evidence, None when it does
    unreachable: bool = False  # its dependency failed or the policy refused it
    input: object = None
    excerpt: str = ""  # the result's first line, for facts the system states itself

    @property
    def citation(self) -> Citation:
        return Citation(tool_use_id=self.tool_use_id, step=self.step, tool=self.tool)


@dataclass
class Evidence:
    calls: dict[str, CallRecord] = field(default_factory=dict)
    # dependency → its latest error, in the order they first failed; blocked actions too
    failures: dict[str, str] = field(default_factory=dict)
    drift_at: datetime | None = None  # the latest drift check: earlier results are stale

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Evidence:
        ev = cls()
        for event in events:
            d = event.data
            use_id = str(d.get("tool_use_id") or "")
            call = ev.calls.get(use_id)
            if event.kind == "model_response":
                step = int(d.get("step") or 0)
                for block in d.get("content") or []:
                    if block.get("type") == "tool_use":
                        ev.calls[str(block["id"])] = CallRecord(
                            str(block["id"]), step, str(block["name"]), input=block.get("input")
                        )
            elif event.kind == "tool_result" and call is not None and call.at is None:
                call.at = event.at
                call.excerpt = _first_line(str(d.get("content") or ""))
                if d.get("is_error") and call.failure is None:
                    call.failure = f"cited a call that returned an error ({call.tool})"
                elif call.tool in NOT_SOURCES:
                    call.failure = f"cited {call.tool}, which reads no source"
            elif event.kind == "tool_blocked":
                what = d.get("command") or d.get("name") or "action"
                ev.failures[f"blocked by policy: {what}"] = str(d.get("reason") or "not allowed")
                if call is not None:
                    call.at = call.at or event.at
                    call.failure = f"cited a call the policy refused ({call.tool})"
                    call.unreachable = True
            elif event.kind == "degraded":
                dep = str(d.get("dependency") or "unknown")
                ev.failures.pop(dep, None)  # re-insert: the latest reason, first-failure order
                ev.failures[dep] = str(d.get("reason") or "")
                if call is not None:
                    call.failure = f"cited a failed call to {dep}"
                    call.unreachable = True
            elif event.kind == "drift_check":
                ev.drift_at = event.at
        return ev

    # --- the ledger -----------------------------------------------------------------------
    def failed_dependencies(self) -> list[str]:
        return [dep for dep in self.failures if not dep.startswith("blocked by policy: ")]

    def could_not_reach(self) -> list[str]:
        """One line per dependency that failed (its latest error) and per refused action."""
        lines = []
        for dep, reason in self.failures.items():
            if dep.startswith("blocked by policy: "):
                lines.append(f"{dep} ({reason})")
            else:
                lines.append(f"{dep}: {reason}" if reason else dep)
        return lines

    def sources_read(self) -> list[CallRecord]:
        """Successful calls to a source, in step order."""
        return sorted(
            (c for c in self.calls.values() if c.at is not None and c.failure is None),
            key=lambda c: c.step,
        )

    def _tried(self) -> list[CallRecord]:
        """Source calls that reached their dependency or failed to: not the ones refused
        before they ran (schema errors, the loop guard) or that are still running."""
        return [
            c
            for c in self.calls.values()
            if c.at is not None
            and c.tool not in NOT_SOURCES
            and (c.unreachable or c.failure is None)
        ]

    def unseen_share(self) -> float:
        """The share of the job's source calls whose dependency failed or was refused."""
        tried = self._tried()
        return sum(1 for c in tried if c.unreachable) / len(tried) if tried else 0.0

    def nothing_readable(self) -> bool:
        """Every source the job tried failed or was refused (and it tried at least one)."""
        tried = self._tried()
        return bool(tried) and all(c.unreachable for c in tried)

    # --- facts ----------------------------------------------------------------------------
    def citation_problem(
        self, tool_use_id: str, *, now: datetime, drift_seconds: float
    ) -> str | None:
        call = self.calls.get(tool_use_id)
        if call is None:
            return "cited a call not in this job"
        if call.at is None:
            return f"cited a call that never finished ({call.tool})"
        if call.failure is not None:
            return call.failure
        stale = now - timedelta(seconds=drift_seconds)
        if call.at < stale or (self.drift_at is not None and call.at < self.drift_at):
            return "older than the drift window"
        return None

    def check(
        self, facts: Sequence[tuple[str, Sequence[str]]], *, now: datetime, drift_seconds: float
    ) -> tuple[list[Fact], list[UnverifiedFact]]:
        """(confirmed, not verified) for the model's (fact, cited tool_use ids) pairs."""
        confirmed: list[Fact] = []
        unverified: list[UnverifiedFact] = []
        for text, cited in facts:
            text = text.strip()
            if not text:
                continue
            good: list[Citation] = []
            problems: list[str] = []
            for use_id in dict.fromkeys(cited):
                problem = self.citation_problem(use_id, now=now, drift_seconds=drift_seconds)
                if problem is None:
                    good.append(self.calls[use_id].citation)
                elif problem not in problems:
                    problems.append(problem)
            about = self._failed_source_named(text, good)
            if good and about is not None:
                problems.append(
                    f"about {about}, which could not be read; its citations are other sources"
                )
                good = []
            if good:
                confirmed.append(Fact(fact=text, evidence=good))
            else:
                why = "; ".join(problems) or "cited nothing"
                unverified.append(UnverifiedFact(fact=text, why=why, evidence=list(cited)))
        return confirmed, unverified

    def _failed_source_named(self, text: str, cited: list[Citation]) -> str | None:
        """A dependency that failed for this job and that `text` names ("vault", "loki",
        "platform"), when no cited call read that dependency: the fact is about a source the
        job could not see, whatever else it cites."""
        families = {TOOL_FAMILY.get(c.tool) for c in cited}
        for dep in self.failed_dependencies():
            family, _, name = dep.partition(":")
            names = {family, name} - {"", "http", "logs", "model"}
            if family in families or not names:
                continue
            if any(re.search(rf"\b{re.escape(n)}\b", text, re.IGNORECASE) for n in names):
                return dep
        return None

    def gathered(self, limit: int = 20, excerpt: int = 160) -> list[Fact]:
        """What the job read successfully, as facts the system itself states (for a run that
        stops before the model could write its handoff): one per source call."""
        facts = []
        for call in self.sources_read()[:limit]:
            if call.tool == "ask_human":
                continue
            what = json.dumps(call.input, sort_keys=True, default=str) if call.input else ""
            text = f"{call.tool} {what}".strip()
            if call.excerpt:
                text += f" answered: {call.excerpt[:excerpt]}"
            facts.append(Fact(fact=text, evidence=[call.citation]))
        return facts


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and line not in ("{", "["):
            return line
    return ""
