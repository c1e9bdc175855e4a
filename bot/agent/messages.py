"""Rebuild the conversation for the Messages API from the job's history. Pure: the same events
always give the same messages, so a resumed job sends exactly what the crashed one would have."""

from __future__ import annotations

from typing import Any

from bot.agent.history import History, ToolCall, Turn
from bot.model import Ticket

DRIFT_NOTE = (
    "Note: this investigation was paused for {minutes:.0f} minutes. State may have changed "
    "since: re-check anything you relied on before concluding."
)
ALERT_RESOLVED_NOTE = (
    "Note: Alertmanager reports that the alert behind this ticket resolved at {at}. The "
    "symptom may be gone; find out what happened and whether it can come back, and say in "
    "the handoff that the alert resolved."
)
NUDGE = (
    "Continue the investigation with the tools. The only way to finish is to call submit_handoff."
)


def ticket_text(ticket: Ticket, tenant: str | None) -> str:
    where = ", ".join(
        part
        for part in (
            f"tenant {tenant}" if tenant else "no tenant mapped",
            f"channel {ticket.channel}" if ticket.channel else "",
            f"from {ticket.user}" if ticket.user else "",
        )
        if part
    )
    return f"Ticket ({where}):\n\n{ticket.text}"


def previous_handoff_text(ticket: Ticket, handoff: dict[str, Any]) -> str:
    """A follow-up starts from what the job before it found, not from nothing."""
    lines = [
        f"This is a follow-up in the thread of job {ticket.parent_job_id}, which ended "
        f"{handoff.get('verdict', 'without a verdict')}. Its handoff:",
        f"Summary: {handoff.get('summary', '')}",
    ]
    for key, title in (
        ("confirmed", "Confirmed"),
        ("could_not_reach", "Could not reach"),
        ("assumptions", "Assumed"),
        ("recommended_actions", "Recommended"),
    ):
        items = handoff.get(key) or []
        if items:
            lines.append(f"{title}:")
            lines.extend(
                f"- {item.get('fact', '')}" if isinstance(item, dict) else f"- {item}"
                for item in items
            )
    lines.append("Re-check anything you rely on: the systems may have changed since.")
    return "\n".join(lines)


def retry_text(history: History) -> str:
    """What the model is told when an operator asks for a new run of a finished job."""
    assert history.retry is not None
    d = history.retry.data
    lines = [
        f"An operator ({d.get('by', 'unknown')}) asked for a new run of this investigation: "
        f"{d.get('reason') or 'no reason given'}."
    ]
    handoff = history.retried_handoff
    if handoff is not None:
        lines.append(
            f"The previous run ended {handoff.get('verdict', 'without a verdict')}: "
            f"{handoff.get('summary', '')}"
        )
        for key, title in (("could_not_reach", "Could not reach"), ("assumptions", "Assumed")):
            items = handoff.get(key) or []
            if items:
                lines.append(f"{title}:")
                lines.extend(f"- {item}" for item in items)
    lines.append(
        "The evidence above is from the earlier run and may be stale. Re-check what matters, "
        "try sources that failed before, then call submit_handoff with a new handoff."
    )
    return "\n".join(lines)


def result_text(call: ToolCall, cap: int) -> tuple[str, bool]:
    """What the model sees for a finished call, and whether it is an error."""
    assert call.result is not None
    d = call.result.data
    if call.result.kind == "tool_blocked":
        text = f"Blocked by policy (rule {d.get('rule') or 'default-deny'}): {d.get('reason', '')}"
        if d.get("hint"):
            text += f"\nHint: {d['hint']}"
        return text, True
    text = str(d.get("content", ""))
    if len(text) > cap:
        text = (
            text[:cap]
            + f"\n[output truncated: showing {cap} of {len(text)} characters; the whole output "
            f"is kept in event {call.result.seq}. Narrow the query to see the rest.]"
        )
    return text, bool(d.get("is_error", False))


# The messages of a turn that can no longer change, by step: (what they were built from, them)
TurnMemo = dict[int, tuple[tuple[Any, ...], list[dict[str, Any]]]]


def build_messages(
    history: History,
    ticket: Ticket,
    tenant: str | None,
    *,
    output_cap: int,
    memo: TurnMemo | None = None,
) -> list[dict[str, Any]]:
    """The conversation so far. With `memo` (one per run), a turn followed by another request
    is built once: everything its messages depend on is fixed by then, so a step costs the
    turns it adds rather than the whole conversation again."""
    first = ticket_text(ticket, tenant)
    if history.previous_handoff is not None:
        first += "\n\n" + previous_handoff_text(ticket, history.previous_handoff)
    after_step = 0
    if history.compaction is not None:
        after_step = int(history.compaction.data.get("upto_step", 0))
        first += f"\n\n[compacted through step {after_step}]\n" + str(
            history.compaction.data.get("summary", "")
        )
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": first}]}
    ]
    turns = [t for t in history.turns if t.step > after_step]
    first_request = turns[0].request.seq if turns else 1 << 62
    messages[0]["content"] += _drift_notes(history, first_request, 0)
    # notes merged from outside (a resolved alert) may land in an earlier turn's window
    notes = (
        history.retry.seq if history.retry is not None else None,
        len(history.drift_notes),
        len(history.alert_notes),
        output_cap,
    )
    for i, turn in enumerate(turns):
        if turn.response is None:
            break  # the request in flight: everything before it is the conversation
        following = turns[i + 1].request.seq if i + 1 < len(turns) else None
        key = (turn.response.seq, following, *notes)
        cached = memo.get(turn.step) if memo is not None else None
        if cached is not None and cached[0] == key:
            messages += cached[1]
            continue
        pair = _turn_messages(history, turn, following, output_cap)
        if pair is None:
            break  # tools still running: not a complete turn yet
        if memo is not None and following is not None:
            memo[turn.step] = (key, pair)
        messages += pair
    return messages


def _turn_messages(
    history: History, turn: Turn, following: int | None, output_cap: int
) -> list[dict[str, Any]] | None:
    """The assistant message of an answered turn and the user message that replies to it;
    None while any of its tool calls has no result."""
    assert turn.response is not None
    content = [
        _clean(b)
        for b in turn.response.data.get("content") or []
        if b.get("type") == "tool_use" or (b.get("type") == "text" and b.get("text"))
    ]
    if not content:
        content = [{"type": "text", "text": "(no output)"}]
    reply: list[dict[str, Any]] = []
    for call in turn.tools:
        if call.result is None:
            return None
        text, is_error = result_text(call, output_cap)
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": call.tool_use_id,
            "content": text,
        }
        if is_error:
            block["is_error"] = True
        reply.append(block)
    if not turn.tools:
        reply.append({"type": "text", "text": NUDGE})
    # a pause noticed during this turn is told with its results
    before = following if following is not None else 1 << 62
    reply += _drift_notes(history, before, turn.response.seq)
    retry = history.retry
    if (
        retry is not None
        and turn.response.seq < retry.seq < before
        and not any(c.result is not None and c.result.data.get("retry") for c in turn.tools)
    ):
        reply.append({"type": "text", "text": retry_text(history)})
    return [{"role": "assistant", "content": content}, {"role": "user", "content": reply}]


def _drift_notes(history: History, before_seq: int, after_seq: int) -> list[dict[str, Any]]:
    """Pause and resolved-alert notes recorded between two turns, as text blocks for the user message there."""
    blocks = []
    for note in history.drift_notes:
        if after_seq < note.seq < before_seq:
            minutes = float(note.data.get("waited_seconds", 0)) / 60
            blocks.append({"type": "text", "text": DRIFT_NOTE.format(minutes=minutes)})
    # a resolved alert reaches the model the way a pause note does: as text between turns
    for note in history.alert_notes:
        if after_seq < note.seq < before_seq:
            at = str(note.data.get("ends_at") or note.at.isoformat())
            blocks.append({"type": "text", "text": ALERT_RESOLVED_NOTE.format(at=at)})
    return blocks


def _clean(block: dict[str, Any]) -> dict[str, Any]:
    """Only the fields a request may carry back (the SDK's dump adds nulls such as
    `citations`)."""
    if block["type"] == "text":
        return {"type": "text", "text": block["text"]}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": block["input"]}
