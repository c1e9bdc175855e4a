"""The Slack emulator behaves like Slack where our code depends on it."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator


def test_metadata_only_with_include_all_metadata(slack: SlackEmulator) -> None:
    c = WebClient(token="xoxb-test", base_url=slack.api_url)
    root = slack.user_message("C1", "U1", "help")
    meta = {"event_type": "steadfast_outbox", "event_payload": {"outbox_key": "j:handoff"}}
    c.chat_postMessage(channel="C1", thread_ts=root["ts"], text="hi", metadata=meta)
    plain = c.conversations_replies(channel="C1", ts=root["ts"])["messages"]
    full = c.conversations_replies(channel="C1", ts=root["ts"], include_all_metadata=True)[
        "messages"
    ]
    assert "metadata" not in plain[1] and full[1]["metadata"] == meta
    history = c.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert [m["ts"] for m in history] == [root["ts"]]  # replies stay in their thread


def test_errors_and_rate_limits_look_like_slack(slack: SlackEmulator) -> None:
    c = WebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as err:
        c.chat_update(channel="C1", ts="1.1", text="x")
    assert err.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as err:
        c.usergroups_users_list(usergroup="S404")
    assert err.value.response["error"] == "no_such_subteam"
    slack.faults.set("429", retry_after=7, count=1)
    with pytest.raises(SlackApiError) as err:
        c.auth_test()
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert httpx.post(f"{slack.api_url}auth.test").json() == {"ok": False, "error": "not_authed"}


def test_duplicate_posts_of_one_outbox_key_are_counted(slack: SlackEmulator) -> None:
    c = WebClient(token="xoxb-test", base_url=slack.api_url)
    meta = {"event_type": "steadfast_outbox", "event_payload": {"outbox_key": "j:x"}}
    c.chat_postMessage(channel="C1", text="a", metadata=meta)
    assert slack.duplicates() == {}
    c.chat_postMessage(channel="C1", text="a", metadata=meta)
    assert slack.duplicates() == {"j:x": 2}
    state = httpx.get(f"{slack.url}/_control/state").json()
    assert state["duplicates"] == {"j:x": 2} and len(state["messages"]["C1"]) == 2
