"""Operators in Slack: buttons, `/steadfast`, App Home; authorisation fails closed and is
audited."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from bot.console.links import ConsoleLinks
from bot.console.tokens import TokenSigner
from bot.model import EventKind, JobStatus, Ticket
from bot.settings import Settings
from bot.slack.app import build_bot
from bot.slack.serve import HttpBot
from bot.store.store import Store
from emulators.slack import SlackEmulator
from emulators.slack_signing import block_action, send_command, send_event, send_interaction
from policy.document import Policy
from policy.source import FixedPolicy
from tests.slack.conftest import GROUP_OPERATOR, OPERATOR, PAY, SECRET, STRANGER, until


def new_job(store: Store) -> str:
    job, _ = store.submit(Ticket(text="disk full", channel=PAY, ts="1.0", tenant="payments"))
    return job.id


def waiting_job(store: Store, wait: str) -> str:
    """A job parked on a question (`human_question`) or an approval (`approval_requested`)."""
    job_id = new_job(store)
    claimed = store.claim("w1", lease_ttl=30)
    assert claimed is not None
    lease = claimed[1]
    use = {"type": "tool_use", "id": "t1", "name": "run_command", "input": {"command": "x"}}
    store.append(lease, "model_request", {"step": 1})
    store.append(lease, "model_response", {"step": 1, "content": [use]})
    store.append(lease, wait, {"tool_use_id": "t1", "question": "May I?"})
    store.finish(lease, JobStatus.WAITING_HUMAN)
    return job_id


def click(http_bot: HttpBot, action_id: str, job_id: str, user: str) -> int:
    payload = block_action(action_id, job_id, user=user, channel=PAY, message_ts="1.0")
    return send_interaction(http_bot.url, SECRET, payload).status_code


def test_unauthorised_button_is_refused_ephemerally_and_audited(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    job_id = new_job(store)
    assert click(http_bot, "steadfast_op_cancel", job_id, STRANGER) == 200
    until(lambda: slack.ephemerals)
    assert slack.ephemerals[0]["user"] == STRANGER
    assert "not allowed to cancel" in slack.ephemerals[0]["text"]
    assert store.get(job_id).status == JobStatus.QUEUED
    refused = store.events(job_id, kinds=[EventKind.OPERATOR_REFUSED])
    assert [(e.data["by"], e.data["action"]) for e in refused] == [(STRANGER, "cancel")]


def test_operator_named_in_policy_cancels_with_a_button(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    job_id = new_job(store)
    assert click(http_bot, "steadfast_op_cancel", job_id, OPERATOR) == 200
    until(lambda: store.get(job_id).status == JobStatus.CANCELLED)
    audit = store.events(job_id, kinds=[EventKind.OPERATOR_ACTION])
    assert audit and audit[0].data.get("by") == OPERATOR
    until(lambda: slack.ephemerals)
    assert "cancel accepted" in slack.ephemerals[0]["text"]


def test_user_group_membership_grants_operator_rights(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    job_id = new_job(store)
    response = send_command(
        http_bot.url,
        SECRET,
        command="/steadfast",
        text=f"pause {job_id} looking myself",
        user_id=GROUP_OPERATOR,
        channel_id=PAY,
    )
    assert response.status_code == 200
    assert "pause accepted" in response.json()["text"]
    assert store.get(job_id).status == JobStatus.PAUSED
    assert slack.calls["usergroups.users.list"] >= 1


def test_unauthorised_slash_command_is_refused_and_audited(store: Store, http_bot: HttpBot) -> None:
    job_id = new_job(store)
    response = send_command(
        http_bot.url,
        SECRET,
        command="/steadfast",
        text=f"retry {job_id}",
        user_id=STRANGER,
        channel_id=PAY,
    )
    assert response.json()["response_type"] == "ephemeral"
    assert "not allowed to retry" in response.json()["text"]
    assert store.events(job_id, kinds=[EventKind.OPERATOR_REFUSED])


def test_status_jobs_and_usage_need_no_rights(store: Store, http_bot: HttpBot) -> None:
    job_id = new_job(store)

    def run(text: str) -> str:
        r = send_command(
            http_bot.url, SECRET, command="/steadfast", text=text, user_id=STRANGER, channel_id=PAY
        )
        assert r.status_code == 200
        return str(r.json()["text"])

    assert job_id in run(f"status {job_id}") and "queued" in run(f"status {job_id}")
    assert job_id in run("jobs")
    assert "Usage" in run("")
    assert "unknown subcommand `frobnicate`" in run("frobnicate x")
    assert "no job with id 'nope'" in run("status nope")


def test_approve_button_rechecks_who_clicked(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    job_id = waiting_job(store, "approval_requested")
    click(http_bot, "steadfast_approve", job_id, STRANGER)
    click(http_bot, "steadfast_deny", job_id, OPERATOR)
    until(lambda: store.events(job_id, kinds=[EventKind.APPROVAL]))
    approvals = store.events(job_id, kinds=[EventKind.APPROVAL])
    assert [(e.data["by"], e.data["approved"]) for e in approvals] == [(OPERATOR, False)]
    refused = store.events(job_id, kinds=[EventKind.OPERATOR_REFUSED])
    assert [(e.data["by"], e.data["action"]) for e in refused] == [(STRANGER, "approve")]


def test_helpful_and_wrong_buttons_record_feedback(store: Store, http_bot: HttpBot) -> None:
    job_id = new_job(store)
    click(http_bot, "steadfast_feedback_helpful", job_id, STRANGER)
    click(http_bot, "steadfast_feedback_wrong", job_id, OPERATOR)
    until(lambda: len(store.events(job_id, kinds=[EventKind.FEEDBACK])) == 2)
    feedback = {
        (e.data["by"], e.data["helpful"]) for e in store.events(job_id, kinds=[EventKind.FEEDBACK])
    }
    assert feedback == {(STRANGER, True), (OPERATOR, False)}


def test_app_home_lists_jobs_with_buttons(
    slack: SlackEmulator, store: Store, http_bot: HttpBot
) -> None:
    job_id = new_job(store)
    send_event(http_bot.url, SECRET, {"type": "app_home_opened", "user": OPERATOR, "tab": "home"})
    until(lambda: OPERATOR in slack.views)
    view = str(slack.views[OPERATOR])
    assert job_id in view and "queued" in view and "steadfast_op_cancel" in view
    # a click from Home (no channel) acts and republishes the view
    send_interaction(
        http_bot.url, SECRET, block_action("steadfast_op_cancel", job_id, user=OPERATOR)
    )
    until(lambda: "cancelled" in str(slack.views[OPERATOR]))


def test_replies_go_only_to_what_the_job_waits_for(store: Store, http_bot: HttpBot) -> None:
    def command(text: str) -> str:
        r = send_command(
            http_bot.url, SECRET, command="/steadfast", text=text, user_id=OPERATOR, channel_id=PAY
        )
        assert r.status_code == 200
        return str(r.json()["text"])

    asks = waiting_job(store, "human_question")
    gated = waiting_job(store, "approval_requested")
    queued = new_job(store)
    assert "is queued, not waiting for a human" in command(f"approve {queued}")
    assert "has no open approval; it is waiting for an answer" in command(f"approve {asks}")
    assert "has no open question" in command(f"answer {gated} the order id is 42")
    assert not store.events(queued, kinds=[EventKind.APPROVAL])
    assert not store.events(asks, kinds=[EventKind.APPROVAL])
    assert not store.events(gated, kinds=[EventKind.HUMAN_ANSWER])
    assert store.get(gated).status == JobStatus.WAITING_HUMAN
    assert "answer recorded" in command(f"answer {asks} the order id is 42")
    assert store.get(asks).status == JobStatus.QUEUED


def test_console_hands_an_operator_an_ephemeral_tenant_link(
    slack: SlackEmulator, settings: Settings, store: Store, policy: Policy
) -> None:
    """`/steadfast console` needs the `console` grant; the link it hands out opens the
    channel's tenant's job list in the console, and nothing of another tenant."""
    secret = SecretStr("s" * 48)
    links = ConsoleLinks(TokenSigner(secret), "http://console.test", FixedPolicy(policy))
    bot = build_bot(settings, store, FixedPolicy(policy), http=True, console_links=links)
    server = HttpBot(bot, host="127.0.0.1", port=0).start()
    try:

        def run(text: str, user: str) -> dict[str, Any]:
            response = send_command(
                server.url, SECRET, command="/steadfast", text=text, user_id=user, channel_id=PAY
            )
            assert response.status_code == 200
            return dict(response.json())

        refused = run("console", STRANGER)
        assert "not allowed to open the trace console" in refused["text"] and "http" not in refused["text"]
        reply = run("console", OPERATOR)
        assert reply["response_type"] == "ephemeral"
        url = reply["text"].split("<", 1)[1].split("|", 1)[0]
        assert url.startswith("http://console.test/?t=")
        grant = TokenSigner(secret).verify(url.split("?t=", 1)[1])
        assert grant.opens_tenant("payments") and not grant.opens_tenant("acme")
        assert "No tenant `acme`" in run("console acme", OPERATOR)["text"]
        assert "payments" in run("console payments", GROUP_OPERATOR)["text"]
    finally:
        server.stop()
