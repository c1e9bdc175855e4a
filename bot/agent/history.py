"""The agent's state, derived from the job's events and nothing else.

`History.parse(events)` groups events into turns (one model request, its response, and the
tool calls the response asked for). The loop builds it once from the whole log when it claims a
job, then `follow`s each event it appends through the same `apply`: one code path builds the
state from events, so a resumed job continues exactly where a live one would have been.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any

from bot.model import Event

RESULT_KINDS = frozenset({"tool_result", "tool_blocked"})


@dataclass
class ToolCall:
    tool_use_id: str
    name: str
    input: Any
    step: int
    call: Event | None = None  # the last `tool_call` event for this id (repeats after a crash)
    calls: int = 0
    result: Event | None = None  # tool_result or tool_blocked: the call is done
    question: Event | None = None  # human_question (ask_human)
    answer: Event | None = None
    approval_requested: Event | None = None
    approval: Event | None = None
    expired: Event | None = None  # wait_expired: nobody replied in time

    @property
    def done(self) -> bool:
        return self.result is not None

    @cached_property
    def key(self) -> str:
        """`tools.call_key` of this call, encoded once: the loop guard asks on every step."""
        from bot.agent.tools import call_key

        return call_key(self.name, self.input)

    @property
    def gave_up(self) -> bool:
        """Waiting for a human who did not reply within `waits.give_up_after`."""
        unanswered = (self.question is not None and self.answer is None) or (
            self.approval_requested is not None and self.approval is None
        )
        return unanswered and self.expired is not None


@dataclass
class Turn:
    step: int
    request: Event
    response: Event | None = None
    tools: list[ToolCall] = field(default_factory=list)

    def pending(self) -> list[ToolCall]:
        return [t for t in self.tools if not t.done]


@dataclass
class History:
    turns: list[Turn] = field(default_factory=list)
    calls: dict[str, ToolCall] = field(default_factory=dict)
    compaction: Event | None = None
    handoff: Event | None = None
    previous_handoff: dict[str, Any] | None = None  # a follow-up's parent job's handoff
    assumptions: list[str] = field(default_factory=list)
    degraded: list[Event] = field(default_factory=list)
    blocked: list[Event] = field(default_factory=list)
    retries: int = 0
    last_drift_seq: int = 0
    drift_notes: list[Event] = field(default_factory=list)  # drift checks not tied to a call
    alert_notes: list[Event] = field(default_factory=list)  # the job's alert resolved meanwhile
    last_claim_seq: int = 0
    paused_seconds: float = 0.0  # how long the job sat paused before its latest claim
    tokens: int = 0
    last_input_tokens: int = 0
    active_seconds: float = 0.0
    started_at: datetime | None = None
    last_at: datetime | None = None
    # An operator's retry starts a new run: `retry` is its operator_action, `retried_handoff`
    # the handoff the previous run ended with, `run_base` (steps, tokens, active seconds) what
    # earlier runs used, so budgets apply to each run afresh.
    retry: Event | None = None
    retried_handoff: dict[str, Any] | None = None
    run_base: tuple[int, int, float] = (0, 0, 0.0)
    # Where `apply` is in the log: the last event applied, and whether a worker held the job
    # and a human was being waited for at that point (what `_clock` counts as running time).
    last_seq: int = 0
    running: bool = False
    waiting: bool = False
    paused_at: Event | None = None

    @property
    def last_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def steps(self) -> int:
        return len(self.turns)

    @property
    def run_steps(self) -> int:
        return self.steps - self.run_base[0]

    @property
    def run_tokens(self) -> int:
        return self.tokens - self.run_base[1]

    @property
    def run_active_seconds(self) -> float:
        return self.active_seconds - self.run_base[2]

    @classmethod
    def parse(cls, events: Sequence[Event]) -> History:
        """The state after `events`, built from nothing (a claim or resume)."""
        return cls().follow(events)

    def follow(self, events: Sequence[Event]) -> History:
        """Apply the events of `events` after the last one applied: the log only grows, so a
        live run pays for its new events only, never for the whole log again."""
        start = len(events)
        while start > 0 and events[start - 1].seq > self.last_seq:
            start -= 1
        for event in events[start:]:
            self.apply(event)
        return self

    def apply(self, event: Event) -> None:
        """Fold one event into the state; `parse` is this over the whole log."""
        if event.seq <= self.last_seq:
            raise ValueError(f"event {event.seq} is not after event {self.last_seq}")
        self._clock(event, counting=self.running and not self.waiting)
        kind = event.kind
        if kind == "operator_action" and event.data.get("action") == "retry":
            self._new_run(event)
        if kind == "claimed":
            self.running, self.waiting = True, False
            self.last_claim_seq = event.seq
            self.paused_seconds = (
                (event.at - self.paused_at.at).total_seconds()
                if self.paused_at is not None
                else 0.0
            )
            self.paused_at = None
        elif kind == "status_changed" and event.data.get("to") not in (None, "running"):
            self.running = False
            if event.data.get("to") == "paused":
                self.paused_at = event
        elif kind in ("human_question", "approval_requested"):
            self.waiting = True
        elif kind in ("human_answer", "approval"):
            self.waiting = False
        self._apply(event)
        self.last_seq = event.seq

    def _new_run(self, retry: Event) -> None:
        """The history the run an operator's retry starts sees. `--from-start` drops every
        earlier step (only the ticket's own context stays); a plain retry keeps the evidence
        and conversation and lets the model conclude anew."""
        if retry.data.get("from_start"):
            fresh = History(
                previous_handoff=self.previous_handoff,
                retry=retry,
                started_at=self.started_at,
                last_at=self.last_at,
                last_seq=self.last_seq,
                running=self.running,
                waiting=self.waiting,
                paused_at=self.paused_at,
            )
            for f in fields(self):
                setattr(self, f.name, getattr(fresh, f.name))
            return
        self.retried_handoff = self.handoff.data if self.handoff is not None else None
        self.handoff = None
        self.retry = retry
        # state may have changed since the last run: calls may be repeated (loop guard)
        self.last_drift_seq = retry.seq
        self.run_base = (self.steps, self.tokens, self.active_seconds)

    def _clock(self, event: Event, *, counting: bool) -> None:
        """Running time: only gaps while a worker held the job and no human was being waited
        for (queued, paused, crashed-until-reaped and waiting time do not count)."""
        if event.kind == "claimed" and self.started_at is None:
            self.started_at = event.at
        if counting and self.last_at is not None:
            self.active_seconds += max(0.0, (event.at - self.last_at).total_seconds())
        self.last_at = event.at

    def _apply(self, event: Event) -> None:
        d = event.data
        kind = event.kind
        if kind == "ticket_received":
            self.previous_handoff = d.get("previous_handoff")
        elif kind == "model_request":
            step = int(d.get("step", len(self.turns) + 1))
            if not self.turns or self.turns[-1].step != step:
                self.turns.append(Turn(step=step, request=event))
        elif kind == "model_response" and self.turns:
            turn = self.turns[-1]
            turn.response = event
            usage = d.get("usage") or {}
            self.last_input_tokens = (
                int(usage.get("input_tokens", 0))
                + int(usage.get("cache_read_input_tokens", 0))
                + int(usage.get("cache_creation_input_tokens", 0))
            )
            self.tokens += self.last_input_tokens + int(usage.get("output_tokens", 0))
            for block in d.get("content") or []:
                if block.get("type") == "tool_use":
                    call = ToolCall(block["id"], block["name"], block.get("input"), turn.step)
                    turn.tools.append(call)
                    self.calls[call.tool_use_id] = call
        elif kind == "tool_call":
            found = self.calls.get(str(d.get("tool_use_id")))
            if found is not None:
                found.call = event
                found.calls += 1
        elif kind in RESULT_KINDS:
            found = self.calls.get(str(d.get("tool_use_id")))
            if found is not None and found.result is None:
                found.result = event
            if kind == "tool_blocked":
                self.blocked.append(event)
        elif kind == "human_question":
            self._attach("question", d, event)
        elif kind == "approval_requested":
            self._attach("approval_requested", d, event)
        elif kind == "human_answer":
            self._first_waiting("question", "answer", event)
        elif kind == "approval":
            self._first_waiting("approval_requested", "approval", event)
        elif kind == "wait_expired":
            self._attach("expired", d, event)
        elif kind == "degraded":
            self.degraded.append(event)
        elif kind == "assumption":
            self.assumptions.append(str(d.get("text", "")))
        elif kind == "retry":
            self.retries += 1
        elif kind == "drift_check":
            self.last_drift_seq = event.seq
            if not d.get("tool_use_id"):
                self.drift_notes.append(event)
        elif kind == "alert_resolved":
            self.alert_notes.append(event)
        elif kind == "compacted":
            self.compaction = event
        elif kind == "handoff":
            self.handoff = event

    def _attach(self, attr: str, data: dict[str, Any], event: Event) -> None:
        call = self.calls.get(str(data.get("tool_use_id")))
        if call is not None and getattr(call, attr) is None:
            setattr(call, attr, event)

    def _first_waiting(self, asked: str, answered: str, event: Event) -> None:
        """A human's reply belongs to the oldest open question of its kind."""
        for call in self.calls.values():
            if call.expired is not None:
                continue  # given up on: the reply is for a later ask
            if getattr(call, asked) is not None and getattr(call, answered) is None:
                setattr(call, answered, event)
                return

    def answered_calls(self, since_seq: int = 0) -> dict[str, int]:
        """call key → seq of its result, for calls that got a result after `since_seq`."""
        keys: dict[str, int] = {}
        for call in self.calls.values():
            if call.result is not None and call.result.seq > since_seq:
                keys.setdefault(call.key, call.step)
        return keys
