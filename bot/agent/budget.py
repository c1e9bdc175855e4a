"""Budgets (steps, running time, tokens) and compaction of old turns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.agent.history import History
from bot.agent.ledger import unreachable_from_events
from policy.document import Budgets

# Turns kept verbatim when compacting; older ones become a summary.
KEEP_TURNS = 4
SUMMARY_LINE_CHARS = 240


@dataclass(frozen=True, slots=True)
class Exhausted:
    budget: str  # steps | wall_seconds | tokens
    used: float
    limit: float

    def describe(self) -> str:
        unit = {"steps": "steps", "wall_seconds": "s of running time", "tokens": "tokens"}
        return f"the {self.budget} budget ran out ({self.used:g} of {self.limit:g} {unit[self.budget]})"


def exhausted(history: History, budgets: Budgets, extra_seconds: float = 0.0) -> Exhausted | None:
    """The first budget that leaves no room for another model call."""
    # per run: an operator's retry gives the new run the whole budget again
    if history.run_steps >= budgets.steps:
        return Exhausted("steps", history.run_steps, budgets.steps)
    elapsed = round(history.run_active_seconds + extra_seconds, 1)
    if elapsed >= budgets.wall_seconds:
        return Exhausted("wall_seconds", elapsed, budgets.wall_seconds)
    if history.run_tokens >= budgets.tokens:
        return Exhausted("tokens", history.run_tokens, budgets.tokens)
    return None


def compaction(history: History, *, force: bool = False) -> dict[str, Any] | None:
    """A `compacted` event's data folding all complete turns but the last few into a summary,
    or None when there is nothing worth folding. The ledger is kept verbatim."""
    done = [turn for turn in history.turns if turn.response is not None and not turn.pending()]
    keep = 1 if force else KEEP_TURNS
    if len(done) <= keep:
        return None
    upto = done[-keep - 1].step
    previous = history.compaction.data if history.compaction is not None else None
    if previous is not None and int(previous.get("upto_step", 0)) >= upto:
        return None
    lines = [str(x) for x in previous.get("lines", [])] if previous is not None else []
    start = int(previous.get("upto_step", 0)) if previous is not None else 0
    for turn in done:
        if turn.step <= start or turn.step > upto:
            continue
        assert turn.response is not None
        for block in turn.response.data.get("content") or []:
            if block.get("type") == "text" and block.get("text"):
                lines.append(f"step {turn.step} thought: {_line(block['text'])}")
        for call in turn.tools:
            assert call.result is not None
            outcome = call.result.data.get("reason") or call.result.data.get("content", "")
            flag = (
                " (error)"
                if call.result.data.get("is_error") or call.result.kind == "tool_blocked"
                else ""
            )
            lines.append(
                f"step {turn.step} {call.name}({_line(str(call.input))}){flag}: {_line(str(outcome))}"
            )
    ledger = {
        "could_not_reach": unreachable_from_events(history),
        "assumptions": list(history.assumptions),
    }
    summary = "\n".join(lines)
    summary += "\n\nLedger so far (verbatim):\n" + "\n".join(
        [f"- could not reach: {x}" for x in ledger["could_not_reach"]]
        + [f"- assumption: {x}" for x in ledger["assumptions"]]
    )
    return {"upto_step": upto, "summary": summary, "lines": lines, "ledger": ledger}


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LINE_CHARS else text[: SUMMARY_LINE_CHARS - 1] + "…"
