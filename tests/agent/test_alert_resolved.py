"""A resolved alert reaches the model as a note in the conversation (as a pause note does),
and the rebuilt conversation stays valid for the Messages API."""

from __future__ import annotations

from bot.agent.history import History
from bot.agent.messages import build_messages
from bot.model import EventKind, JobStatus
from emulators.anthropic import validate
from tests.agent.conftest import Kit
from tests.agent.fakes import FakeContext, make_job
from tests.agent.test_history import events


def test_the_model_is_told_the_alert_resolved_at_its_next_request(kit: Kit) -> None:
    ctx = FakeContext(make_job("scenario:ask-human"))
    assert kit.agent().run(ctx).status == JobStatus.WAITING_HUMAN
    ctx.append(EventKind.ALERT_RESOLVED, {"ends_at": "2026-12-02T10:20:00Z", "fingerprint": "f"})
    ctx.append(EventKind.HUMAN_ANSWER, {"text": "order 4411", "by": "U2"})
    assert kit.agent().run(ctx.resume()).status == JobStatus.SUCCEEDED
    sent = [
        r.json() for r in kit.emulator.requests if r.json()["metadata"]["user_id"] == ctx.job.id
    ]
    texts = [
        block.get("text", "")
        for block in sent[-1]["messages"][-1]["content"]
        if block.get("type") == "text"
    ]
    assert any("resolved at 2026-12-02T10:20:00Z" in t for t in texts)
    assert not any("resolved at" in str(r["messages"]) for r in sent[:1])  # not before it did


def test_the_note_sits_between_turns_and_the_conversation_stays_valid() -> None:
    h = History.parse(
        events(
            (0, "ticket_received", {}),
            (1, "claimed", {}),
            (2, "model_request", {"step": 1}),
            (
                3,
                "model_response",
                {"content": [{"type": "tool_use", "id": "t1", "name": "k", "input": {}}]},
            ),
            (4, "alert_resolved", {"ends_at": "2026-12-02T10:20:00Z"}),
            (5, "tool_result", {"tool_use_id": "t1", "content": "ok"}),
            (6, "model_request", {"step": 2}),
        )
    )
    messages = build_messages(h, make_job("x").ticket, "acme", output_cap=1000)
    validate({"model": "m", "max_tokens": 10, "messages": messages})
    last = messages[-1]["content"]
    assert last[0]["type"] == "tool_result"
    assert "resolved at 2026-12-02T10:20:00Z" in last[1]["text"]
