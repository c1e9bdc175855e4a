"""State derived from events: running time, and a rebuilt conversation the API accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.agent.history import History
from bot.agent.messages import build_messages
from bot.model import Event, Ticket
from emulators.anthropic import validate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def events(*rows: tuple[float, str, dict[str, Any]]) -> list[Event]:
    return [
        Event("j", i, T0 + timedelta(seconds=at), kind, data)
        for i, (at, kind, data) in enumerate(rows, 1)
    ]


def test_waiting_for_humans_and_sitting_in_the_queue_is_not_running_time() -> None:
    h = History.parse(
        events(
            (0, "ticket_received", {}),
            (100, "claimed", {}),
            (110, "human_question", {"tool_use_id": "t"}),
            (111, "status_changed", {"from": "running", "to": "waiting_human"}),
            (3600, "human_answer", {"text": "x"}),
            (3601, "status_changed", {"from": "waiting_human", "to": "queued"}),
            (3700, "claimed", {}),
            (3705, "tool_result", {"tool_use_id": "t"}),
        )
    )
    assert h.active_seconds == 15


def test_rebuilt_conversation_is_valid_and_stops_before_an_unfinished_turn() -> None:
    use = {
        "type": "tool_use",
        "id": "t1",
        "name": "k8s_list",
        "input": {"resource": "pods", "namespace": "a"},
    }
    log = events(
        (0, "claimed", {}),
        (1, "model_request", {"step": 1}),
        (2, "model_response", {"step": 1, "content": [{"type": "text", "text": "look"}, use]}),
        (3, "tool_call", {"tool_use_id": "t1", "name": "k8s_list"}),
        (4, "tool_result", {"tool_use_id": "t1", "content": "x" * 50, "is_error": False}),
        (5, "model_request", {"step": 2}),
        (6, "model_response", {"step": 2, "content": [{**use, "id": "t2"}]}),
        (7, "tool_call", {"tool_use_id": "t2", "name": "k8s_list"}),
    )
    messages = build_messages(History.parse(log), Ticket(text="help"), "acme", output_cap=20)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert validate({"model": "m", "max_tokens": 1, "messages": messages}) is None
    result = messages[2]["content"][0]
    assert result["content"].startswith("x" * 20) and "output truncated" in result["content"]
    # same events, same messages
    assert messages == build_messages(
        History.parse(log), Ticket(text="help"), "acme", output_cap=20
    )


def test_a_follow_up_starts_from_the_previous_handoff() -> None:
    previous = {
        "verdict": "escalated",
        "summary": "auth-api crash-loops on a stale DB credential",
        "confirmed": ["auth-api in CrashLoopBackOff"],
        "could_not_reach": ["vault: timed out"],
    }
    log = events((0, "ticket_received", {"text": "still down?", "previous_handoff": previous}))
    ticket = Ticket(text="still down?", parent_job_id="p1")
    [first] = build_messages(History.parse(log), ticket, "acme", output_cap=20)
    text = first["content"][0]["text"]
    assert "follow-up in the thread of job p1, which ended escalated" in text
    for line in ("auth-api crash-loops", "- auth-api in CrashLoopBackOff", "- vault: timed out"):
        assert line in text
    plain = build_messages(
        History.parse(events((0, "ticket_received", {}))), ticket, None, output_cap=20
    )
    assert "follow-up" not in plain[0]["content"][0]["text"]
