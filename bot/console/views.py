"""What the console shows, built from a job's events: the handoff with each confirmed fact's
supporting step, the cost, the versions the job ran under, and one timeline entry per event.

Pure: events in, plain records out; the templates only lay them out. Every string taken from an
event passes through the scrubber the Slack boundary uses before it reaches a record, so the
page shows nothing the thread could not.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.cost import Cost, PriceTable
from bot.handoff.model import Handoff
from bot.handoff.render_text import SECTIONS, VERDICT_LABELS, overridden_by, score_line
from bot.model import Event, EventKind, Job
from bot.timeline import summary

Scrub = Callable[[str], str]
COLLAPSE_CHARS = 600  # longer outputs start collapsed (<details>)
COLLAPSE_LINES = 12

# The look of each kind on the page: a CSS class (console.css) and a label.
KIND_STYLE: dict[str, str] = {
    "model_response": "model",
    "model_request": "quiet",
    "tool_call": "tool",
    "tool_result": "result",
    "tool_blocked": "blocked",
    "retry": "warn",
    "degraded": "warn",
    "interrupted": "crash",
    "resumed": "resume",
    "claimed": "resume",
    "human_question": "human",
    "human_answer": "human",
    "operator_action": "operator",
    "operator_refused": "operator",
    "handoff": "handoff",
    "escalation_score": "handoff",
    "status_changed": "quiet",
    "posted": "quiet",
}


@dataclass(frozen=True, slots=True)
class Block:
    """A labelled piece of text under an entry; long ones start collapsed."""

    label: str
    text: str
    collapsed: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at: str
    kind: str
    style: str
    title: str
    anchor: str | None = None  # `call-<tool_use_id>` for the step a fact can link to
    fields: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FactLink:
    text: str
    links: list[tuple[str, str]]  # (anchor, label) of each supporting step


@dataclass
class Summary:
    """Everything above the timeline."""

    handoff: Handoff | None
    verdict_label: str | None
    overridden: str | None
    confirmed: list[FactLink]
    sections: list[tuple[str, list[str]]]  # the handoff's other sections, as posted
    score: str | None
    score_parts: list[tuple[str, str]]
    cost: Cost
    versions: list[tuple[str, dict[str, str]]]  # (from which step, versions) in order


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _long(text: str) -> bool:
    return len(text) > COLLAPSE_CHARS or text.count("\n") >= COLLAPSE_LINES


def anchor_for(tool_use_id: str) -> str:
    """The HTML id of the timeline entry where a call was made."""
    return "call-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in tool_use_id)


class Views:
    """Builds the console's records. `scrub` is the process scrubber's `scrub`.

    Scrubbing is the expensive part of a page (the detectors try every encoding of every
    string: about 8 ms per KiB), and events never change once written, so each distinct string
    is scrubbed once and remembered (bounded, least recently used first out): a page reloaded
    or polled costs its new events only."""

    def __init__(
        self, scrub: Scrub, prices: PriceTable, default_model: str, *, memo: int = 4096
    ) -> None:
        self._scrub = scrub
        self._prices = prices
        self._default_model = default_model
        self._memo: OrderedDict[str, str] = OrderedDict()
        self._memo_size = memo
        self._lock = threading.Lock()

    def s(self, value: Any) -> str:
        text = _text(value)
        with self._lock:
            done = self._memo.get(text)
            if done is not None:
                self._memo.move_to_end(text)
                return done
        done = self._scrub(text)
        with self._lock:
            self._memo[text] = done
            while len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return done

    def block(self, label: str, value: Any) -> Block:
        text = self.s(value)
        return Block(label, text, collapsed=_long(text))

    # --- above the timeline -----------------------------------------------------------------
    def summary(self, events: Sequence[Event]) -> Summary:
        handoff = self._handoff(events)
        confirmed: list[FactLink] = []
        sections: list[tuple[str, list[str]]] = []
        score_parts: list[tuple[str, str]] = []
        if handoff is not None:
            confirmed = [
                FactLink(
                    self.s(fact.fact),
                    [(anchor_for(c.tool_use_id), self.s(c.label())) for c in fact.evidence],
                )
                for fact in handoff.confirmed
            ]
            sections = [
                (title, [self.s(line) for line in handoff.lines(attr)])
                for title, attr in SECTIONS
                if attr != "confirmed"
            ]
            if handoff.score is not None:
                sc = handoff.score
                score_parts = [
                    ("total", f"{sc.total:.2f}"),
                    ("threshold", f"{sc.threshold:.2f}"),
                    ("uncertainty", f"{sc.uncertainty:.2f}"),
                    ("novelty", f"{sc.novelty:.2f}"),
                    ("intervention benefit", f"{sc.intervention_benefit:.2f}"),
                ]
        overridden = None
        if (
            handoff is not None
            and handoff.model_verdict
            and handoff.model_verdict != handoff.verdict
        ):
            overridden = self.s(
                f"The model said {handoff.model_verdict}; {overridden_by(handoff)}."
            )
        return Summary(
            handoff=handoff,
            verdict_label=VERDICT_LABELS.get(handoff.verdict, handoff.verdict) if handoff else None,
            overridden=overridden,
            confirmed=confirmed,
            sections=sections,
            score=score_line(handoff) if handoff is not None else None,
            score_parts=score_parts,
            cost=self._prices.of_events(events, self._default_model),
            versions=self._versions(events),
        )

    def _handoff(self, events: Sequence[Event]) -> Handoff | None:
        """The job's latest handoff, the record the Slack message was rendered from."""
        for event in reversed(events):
            if event.kind == EventKind.HANDOFF:
                try:
                    return Handoff.model_validate(event.data)
                except ValidationError:
                    return None
        return None

    def _versions(self, events: Sequence[Event]) -> list[tuple[str, dict[str, str]]]:
        """Each distinct set of versions the model requests ran under, from the step it began."""
        out: list[tuple[str, dict[str, str]]] = []
        for event in events:
            versions = event.data.get("versions") if event.kind == "model_request" else None
            if isinstance(versions, dict) and (not out or out[-1][1] != versions):
                out.append(
                    (
                        f"step {event.data.get('step', '?')}",
                        {k: self.s(v) for k, v in versions.items()},
                    )
                )
        return out

    # --- the timeline -----------------------------------------------------------------------
    def timeline(self, events: Sequence[Event], *, before: Sequence[Event] = ()) -> list[Entry]:
        """One entry per event. `before`: the job's earlier events, which a resume entry counts
        (what the resumed worker skipped) when only new events are rendered."""
        seen: list[Event] = list(before)
        # a call repeated after a crash (the one step in flight) keeps the first call's anchor
        anchored = {str(e.data.get("tool_use_id")) for e in before if e.kind == "tool_call"}
        entries = []
        for event in events:
            entry = self.entry(event, seen)
            use_id = str(event.data.get("tool_use_id"))
            if event.kind == "tool_call" and use_id in anchored:
                entry = replace(entry, anchor=None)
            if event.kind == "tool_call":
                anchored.add(use_id)
            entries.append(entry)
            seen.append(event)
        return entries

    def entry(self, event: Event, earlier: Sequence[Event]) -> Entry:
        d, k = event.data, event.kind
        fields: list[tuple[str, str]] = []
        blocks: list[Block] = []
        anchor = None
        title = self.s(summary(event))
        if k == "ticket_received":
            blocks.append(self.block("ticket", d.get("text", "")))
        elif k == "model_response":
            title = f"step {d.get('step', '?')}: the model answered"
            for item in d.get("content") or []:
                if item.get("type") == "text" and item.get("text"):
                    blocks.append(self.block("text", item["text"]))
                elif item.get("type") == "tool_use":  # its input shows on the tool_call
                    fields.append(("chose", self.s(item.get("name", ""))))
            usage = d.get("usage") or {}
            if usage:
                fields.append(
                    (
                        "tokens",
                        f"{usage.get('input_tokens', 0)} in, {usage.get('output_tokens', 0)} out",
                    )
                )
        elif k == "tool_call":
            anchor = anchor_for(str(d.get("tool_use_id") or "")) if d.get("tool_use_id") else None
            title = f"{d.get('name') or d.get('tool')}"
            blocks.append(self.block("input", d.get("input", {})))
        elif k == "tool_result":
            title = f"{d.get('name') or d.get('tool', 'result')}" + (
                " (error)" if d.get("is_error") else ""
            )
            blocks.append(self.block("output", d.get("content", "")))
        elif k == "tool_blocked":
            what = d.get("command") or d.get("input") or d.get("name") or ""
            title = f"blocked: {self.s(what)}"
            fields += [
                ("rule", self.s(d.get("rule", ""))),
                ("reason", self.s(d.get("reason", ""))),
            ]
            if d.get("hint"):
                fields.append(("hint", self.s(d["hint"])))
        elif k == "retry":
            fields += [
                ("dependency", self.s(d.get("dependency", "model"))),
                ("cause", self.s(d.get("reason", ""))),
                ("attempt", self.s(d.get("attempt", "?"))),
                ("waited", f"{float(d.get('wait_seconds', 0) or 0):.1f} s"),
            ]
        elif k == "degraded":
            fields += [
                ("dependency", self.s(d.get("dependency", ""))),
                ("reason", self.s(d.get("reason", ""))),
            ]
        elif k == "interrupted":
            title = f"worker {self.s(d.get('worker', '?'))} lost its lease (crash or kill)"
            fields += [
                ("worker", self.s(d.get("worker", "?"))),
                ("attempt", self.s(d.get("attempt", "?"))),
            ]
        elif k == "resumed":
            responses = sum(1 for e in earlier if e.kind == "model_response")
            results = sum(1 for e in earlier if e.kind in ("tool_result", "tool_blocked"))
            fields += [
                ("worker", self.s(d.get("worker", "?"))),
                ("attempt", self.s(d.get("attempt", "?"))),
                (
                    "skipped",
                    f"{responses} recorded model responses, {results} recorded tool results",
                ),
            ]
        elif k in ("human_question", "human_answer"):
            if d.get("by"):
                fields.append(("by", self.s(d["by"])))
            blocks.append(self.block("text", d.get("question") or d.get("text") or ""))
        elif k in ("operator_action", "operator_refused"):
            fields += [
                ("action", self.s(d.get("action", ""))),
                ("by", self.s(d.get("by", ""))),
            ]
            if d.get("reason"):
                fields.append(("why", self.s(d["reason"])))
        elif k not in ("status_changed", "claimed", "model_request", "handoff", "escalation_score"):
            blocks.append(self.block("data", d))
        return Entry(
            seq=event.seq,
            at=event.at.strftime("%H:%M:%S.%f")[:-3],
            kind=k,
            style=KIND_STYLE.get(k, "other"),
            title=title,
            anchor=anchor,
            fields=fields,
            blocks=blocks,
        )


def age(job: Job, now: datetime) -> str:
    """How long ago the job was opened, the way a list reads it."""
    seconds = max(0, int((now - job.created_at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
