"""The Anthropic emulator itself, through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from emulators.anthropic import AnthropicEmulator


@pytest.fixture
def client(emulator: AnthropicEmulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="sk-test", base_url=emulator.url, max_retries=0) as c:
        yield c


def ask(
    c: anthropic.Anthropic, messages: list[dict[str, object]], job: str = "j1"
) -> anthropic.types.Message:
    return c.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=100,
        messages=messages,  # type: ignore[arg-type]
        metadata={"user_id": job},
    )


def test_answers_scripted_tool_use_with_real_shapes(
    emulator: AnthropicEmulator, client: anthropic.Anthropic
) -> None:
    msg = ask(client, [{"role": "user", "content": "scenario:loop-guard"}])
    assert msg.type == "message" and msg.role == "assistant" and msg.stop_reason == "tool_use"
    [use] = [b for b in msg.content if b.type == "tool_use"]
    assert use.name == "k8s_list" and use.input == {"resource": "pods", "namespace": "shop"}
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0


def test_counts_requests_and_repeats_per_job(
    emulator: AnthropicEmulator, client: anthropic.Anthropic
) -> None:
    c = client
    first = [{"role": "user", "content": "scenario:loop-guard"}]
    ask(c, first, job="r1")
    ask(c, first, job="r1")  # same conversation again: a repeat
    ask(c, first, job="r2")
    state = httpx.get(f"{emulator.url}/_control/state").json()["jobs"]
    assert state["r1"]["requests"] == 2 and state["r1"]["repeated"] == 1
    assert state["r2"] == {"requests": 1, "repeated": 0, "steps": [1]}


def test_rejects_a_conversation_with_unanswered_tool_use(
    emulator: AnthropicEmulator, client: anthropic.Anthropic
) -> None:
    c = client
    msg = ask(c, [{"role": "user", "content": "scenario:loop-guard"}], job="v1")
    bad = [
        {"role": "user", "content": "scenario:loop-guard"},
        {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
        {"role": "user", "content": "no tool_result here"},
    ]
    with pytest.raises(anthropic.BadRequestError, match="without tool_result"):
        ask(c, bad, job="v1")


def test_faults_from_the_control_endpoint(
    emulator: AnthropicEmulator, client: anthropic.Anthropic
) -> None:
    c = client
    httpx.post(
        f"{emulator.url}/_control/faults", json={"mode": "429", "retry_after": 7, "count": 1}
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        ask(c, [{"role": "user", "content": "scenario:loop-guard"}], job="f1")
    assert info.value.response.headers["retry-after"] == "7"
    httpx.post(f"{emulator.url}/_control/faults", json={"mode": "529", "count": 1})
    with pytest.raises(anthropic.APIStatusError) as over:
        ask(c, [{"role": "user", "content": "scenario:loop-guard"}], job="f1")
    assert over.value.status_code == 529
    assert ask(c, [{"role": "user", "content": "scenario:loop-guard"}], job="f1").id


def test_unknown_ticket_gets_a_400_that_says_why(
    emulator: AnthropicEmulator, client: anthropic.Anthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="no script matches"):
        ask(client, [{"role": "user", "content": "nothing scripted"}])
