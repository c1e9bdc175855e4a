"""Block Kit and plain-text rendering of the handoff; Slack's limits hold for any size."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from bot.handoff.model import Handoff, Score
from bot.handoff.render_slack import MAX_BLOCKS, MAX_SECTION, render_escalation, render_handoff
from bot.handoff.render_text import render_text
from emulators.slack import SlackEmulator


def handoff(**kw: object) -> Handoff:
    base: dict[str, object] = {
        "job_id": "abc123",
        "verdict": "escalated",
        "model_verdict": "resolved",
        "summary": "Payments API returns 502 since the 10:02 deploy.",
        "confirmed": ["pods crash-loop: OOMKilled"],
        "could_not_reach": ["vault: permission denied"],
        "assumptions": ["the deploy at 10:02 is the trigger"],
        "recommended_actions": ["roll back payments-api to v41"],
        "score": Score(
            total=0.71, uncertainty=0.8, novelty=0.6, intervention_benefit=0.7, threshold=0.6
        ),
    }
    base.update(kw)
    return Handoff.model_validate(base)


def limits_hold(messages: list[dict]) -> None:
    for m in messages:
        assert m["text"] and len(m["text"]) <= 3000
        assert 0 < len(m["blocks"]) <= MAX_BLOCKS
        for b in m["blocks"]:
            if b["type"] == "section":
                assert 0 < len(b["text"]["text"]) <= MAX_SECTION


def test_small_handoff_is_one_message_with_every_part() -> None:
    [message] = render_handoff(handoff())
    text = str(message["blocks"])
    for part in (
        "Escalated",
        "Confirmed",
        "OOMKilled",
        "Could not reach",
        "Assumptions logged",
        "Recommended next actions",
        "Escalation score 0.71 (threshold 0.60)",
        "novelty 0.60",
        "steadfast replay abc123",
        "the escalation score overrode it",
    ):
        assert part in text
    assert message["text"].startswith("Escalated to on-call: Payments API")
    assert message["blocks"][-1]["type"] == "actions"


def test_model_text_cannot_forge_mentions_or_links() -> None:
    [message] = render_handoff(handoff(summary="<!channel> see <http://evil|here>"))
    text = str(message["blocks"]) + message["text"]
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_huge_handoff_splits_within_limits_and_slack_accepts_every_part(
    slack: SlackEmulator,
) -> None:
    big = handoff(
        summary="s" * 7000,
        confirmed=[f"fact {i} " + "x" * 400 for i in range(400)],
        recommended_actions=["y" * 5000],
    )
    messages = render_handoff(big)
    assert len(messages) > 1
    limits_hold(messages)
    assert messages[-1]["blocks"][-2]["type"] == "actions"  # buttons end the last part
    joined = "".join(str(m["blocks"]) for m in messages)
    assert all(f"fact {i} " in joined for i in range(400))  # nothing dropped
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    for m in messages + render_escalation(big, usergroup="S1", ticket_link="https://x", tenant="t"):
        assert client.chat_postMessage(channel="C1", text=m["text"], blocks=m["blocks"])["ok"]


@settings(max_examples=40, deadline=None)
@given(
    summary=st.text(min_size=0, max_size=9000),
    items=st.lists(st.text(max_size=4000), max_size=80),
)
def test_any_handoff_respects_block_kit_limits(summary: str, items: list[str]) -> None:
    h = handoff(summary=summary, confirmed=items, assumptions=items[:5])
    limits_hold(render_handoff(h))
    limits_hold(render_escalation(h, usergroup=None, ticket_link="https://x", tenant=None))


def test_plain_text_rendering() -> None:
    text = render_text(handoff(assumptions=[]))
    assert "== Escalated to on-call — job abc123 ==" in text
    assert "Assumptions logged:\n  (none)" in text
    assert "Replay: steadfast replay abc123" in text
    assert "the escalation score overrode it" in text
