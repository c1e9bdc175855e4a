"""slack_sdk's WebClient against the Slack emulator: the error answers a real workspace gives.

References (each test cites the page it checks against):
- https://docs.slack.dev/apis/web-api/  (envelope: HTTP 200, `ok`, `error`)
- https://docs.slack.dev/reference/methods/chat.postMessage  (errors table)
- https://docs.slack.dev/apis/web-api/rate-limits  (HTTP 429, `Retry-After`, `ratelimited`)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from emulators.base import load_scenario
from emulators.slack import MAX_TEXT, SlackEmulator

REPO = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-conformance"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    scenario = load_scenario()
    scenario["slack"]["bot_token"] = TOKEN
    scenario["slack"]["channels"] = {
        "C0SUPPORT": {"name": "support"},
        "C0PRIVATE": {"name": "finance", "bot_member": False},
    }
    with SlackEmulator(scenario) as emulator:
        yield emulator


def client(emulator: SlackEmulator, token: str = TOKEN) -> WebClient:
    return WebClient(token=token, base_url=emulator.api_url)


def error_of(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


def test_post_to_a_joined_channel_succeeds(slack):
    # chat.postMessage: `ok: true` with the channel id and the message's ts
    answer = client(slack).chat_postMessage(channel="C0SUPPORT", text="hello")
    assert answer.status_code == 200 and answer["ok"] is True
    assert answer["channel"] == "C0SUPPORT" and answer["ts"]
    assert [m["text"] for m in slack.messages("C0SUPPORT")] == ["hello"]


def test_post_to_a_channel_that_does_not_exist(slack):
    # chat.postMessage errors: channel_not_found "Value passed for channel was invalid."
    err = error_of(lambda: client(slack).chat_postMessage(channel="C0NOSUCH", text="hi"))
    assert err.response.status_code == 200
    assert err.response.data == {"ok": False, "error": "channel_not_found"}
    assert slack.messages("C0NOSUCH") == []


def test_post_to_a_channel_the_bot_is_not_in(slack):
    # chat.postMessage errors: not_in_channel "Cannot post user messages to a channel they are
    # not in."
    err = error_of(lambda: client(slack).chat_postMessage(channel="C0PRIVATE", text="hi"))
    assert err.response["error"] == "not_in_channel"
    assert slack.messages("C0PRIVATE") == []


def test_reading_history_of_an_unknown_channel(slack):
    # conversations.history errors: channel_not_found
    # https://docs.slack.dev/reference/methods/conversations.history
    err = error_of(lambda: client(slack).conversations_history(channel="C0NOSUCH"))
    assert err.response["error"] == "channel_not_found"


def test_message_over_40000_characters_is_too_long(slack):
    # chat.postMessage: msg_too_long "Message text is too long" (the text limit is 40,000)
    too_long = "x" * (MAX_TEXT + 1)
    err = error_of(lambda: client(slack).chat_postMessage(channel="C0SUPPORT", text=too_long))
    assert err.response.status_code == 200 and err.response["error"] == "msg_too_long"
    assert client(slack).chat_postMessage(channel="C0SUPPORT", text="x" * MAX_TEXT)["ok"]


def test_unknown_method_is_an_ok_false_envelope(slack):
    # Web API basics: every method answers HTTP 200 with `ok: false` and an error code;
    # an unknown method name gives `unknown_method`
    err = error_of(lambda: client(slack).api_call("chat.noSuchMethod"))
    assert err.response.status_code == 200
    assert err.response["ok"] is False and err.response["error"] == "unknown_method"


def test_wrong_token_is_invalid_auth_and_none_is_not_authed(slack):
    # https://docs.slack.dev/reference/methods/auth.test errors: invalid_auth, not_authed
    err = error_of(lambda: client(slack, "xoxb-wrong").auth_test())
    assert err.response.status_code == 200
    assert err.response.data == {"ok": False, "error": "invalid_auth"}
    no_token = error_of(lambda: WebClient(base_url=slack.api_url).auth_test())
    assert no_token.response["error"] == "not_authed"


def test_rate_limited_answer_is_429_with_retry_after(slack):
    # rate limits: "HTTP 429 Too Many Requests ... a Retry-After HTTP header containing the
    # number of seconds until you can retry"; the body's error is `ratelimited`
    slack.faults.set("429", retry_after=7, count=1)
    err = error_of(lambda: client(slack).chat_postMessage(channel="C0SUPPORT", text="hi"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    assert client(slack).chat_postMessage(channel="C0SUPPORT", text="hi")["ok"]


def test_open_workspace_without_a_channel_list_accepts_any_channel():
    # the default scenario lists no channels: tests may invent channel ids
    with SlackEmulator(load_scenario()) as emulator:
        assert client(emulator).chat_postMessage(channel="C0ANY", text="hi")["ok"]


def test_main_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "emulators.slack", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "--scenario" in result.stdout and "--port" in result.stdout
