"""The anthropic SDK against the Anthropic emulator: the shapes the Messages API documents.

References:
- https://docs.anthropic.com/en/api/messages  (request and response shapes, usage fields)
- https://docs.anthropic.com/en/api/errors  (HTTP status → error.type, the error envelope,
  `request-id` header; 429 with `retry-after`; 529 overloaded_error)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from emulators.anthropic import AnthropicEmulator

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-ant-conformance"
SCENARIO = {
    "anthropic": {
        "api_key": KEY,
        "scripts": [
            {
                "name": "one",
                "match": "pods",
                "steps": [
                    {
                        "text": "Looking at the pods.",
                        "tool": "k8s_list",
                        "input": {"resource": "pods", "namespace": "shop"},
                    },
                    {"text": "Done."},
                ],
            }
        ],
    }
}


@pytest.fixture
def emulator() -> Iterator[AnthropicEmulator]:
    with AnthropicEmulator(SCENARIO) as emu:
        yield emu


def client(emu: AnthropicEmulator, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=emu.url, max_retries=0)


def ask(c: anthropic.Anthropic, **overrides: object) -> anthropic.types.Message:
    args: dict[str, object] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "why are the pods failing?"}],
        "metadata": {"user_id": "conformance"},
    }
    args.update(overrides)
    return c.messages.create(**args)  # type: ignore[call-overload,no-any-return]


def test_message_shape(emulator):
    # Messages API response: id, type "message", role "assistant", content blocks, model,
    # stop_reason, stop_sequence, usage {input_tokens, output_tokens, cache_* fields}
    with client(emulator) as c:
        msg = ask(c)
    assert msg.id.startswith("msg_") and msg.type == "message" and msg.role == "assistant"
    assert msg.model == "claude-sonnet-4-5" and msg.stop_sequence is None
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    use = msg.content[1]
    assert use.type == "tool_use" and use.id.startswith("toolu_")
    assert use.input == {"resource": "pods", "namespace": "shop"}
    assert msg.stop_reason == "tool_use"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert msg.usage.cache_read_input_tokens == 0
    assert msg._request_id and msg._request_id.startswith("req_")


def test_tool_result_turn_ends_the_turn(emulator):
    with client(emulator) as c:
        first = ask(c)
        use = first.content[1]
        assert use.type == "tool_use"
        msg = ask(
            c,
            messages=[
                {"role": "user", "content": "why are the pods failing?"},
                {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "[]"}],
                },
            ],
        )
    assert msg.stop_reason == "end_turn" and msg.content[0].type == "text"


def test_bad_key_is_authentication_error(emulator):
    # errors: 401 authentication_error
    with client(emulator, "sk-wrong") as c, pytest.raises(anthropic.AuthenticationError) as info:
        ask(c)
    assert info.value.status_code == 401
    assert info.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }


def test_invalid_request_is_bad_request(emulator):
    # errors: 400 invalid_request_error (here: a conversation not starting with the user)
    with client(emulator) as c, pytest.raises(anthropic.BadRequestError) as info:
        ask(c, messages=[{"role": "assistant", "content": "hi"}])
    assert info.value.status_code == 400
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_rate_limit_and_overload(emulator):
    # errors: 429 rate_limit_error with retry-after; 529 overloaded_error
    emulator.faults.set("429", retry_after=3, count=1)
    with client(emulator) as c:
        with pytest.raises(anthropic.RateLimitError) as limited:
            ask(c)
        assert limited.value.response.headers["retry-after"] == "3"
        assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        emulator.faults.set("529", count=1)
        with pytest.raises(anthropic.APIStatusError) as overloaded:
            ask(c)
        assert overloaded.value.status_code == 529
        assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
        assert ask(c).type == "message"  # the faults were one-shot


def test_unknown_model_is_an_error_envelope(emulator):
    # errors: 404 not_found_error in the same envelope
    with client(emulator) as c, pytest.raises(anthropic.NotFoundError) as info:
        c.models.retrieve("gpt-none")
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_models_retrieve_answers_the_sdk(emulator):
    with client(emulator) as c:
        info = c.models.retrieve("claude-sonnet-5-5")
    assert (info.type, info.id) == ("model", "claude-sonnet-5-5")


def test_main_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "emulators.anthropic", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and "--scenario" in result.stdout
