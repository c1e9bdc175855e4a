"""Cross-cutting Bolt middleware: operator authorisation and its audit.
Listeners never repeat these checks; they read `context["intent"]`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.slack.errors import UsageError
from bot.slack.operators import (
    Intent,
    OperatorDirectory,
    audit_refusal,
    intent_from_action,
    parse_command,
)
from bot.store.store import Store

log = logging.getLogger(__name__)


def refusal_text(intent: Intent) -> str:
    what = "open the trace console of" if intent.action == "console" else intent.action
    return (
        f":no_entry: You are not allowed to {what} Steadfast jobs. "
        "Operators are listed in the policy's `operators` section; ask an admin."
    )


def authorize_operators(
    store: Store, directory: OperatorDirectory, client: WebClient
) -> Callable[..., Any]:
    """Parse the operator intent of a slash command or button click and check it against the
    policy. Refused: an ephemeral reply and an `operator_refused` event; the listener never
    runs. Anything that is not an operator request passes through untouched."""

    def authorize(
        body: dict[str, Any], context: BoltContext, next_: Callable[[], None]
    ) -> BoltResponse | None:
        try:
            intent = _intent(body)
        except UsageError as exc:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": str(exc)})
        if intent is None:
            next_()
            return None
        permission = intent.permission
        if permission is not None and not directory.allowed(intent.user, permission):
            log.warning("refused %s on %s by %s", intent.action, intent.job_id, intent.user)
            audit_refusal(store, intent)
            text = refusal_text(intent)
            if intent.source == "command":
                return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
            ephemeral(client, intent, text)
            return BoltResponse(status=200, body="")
        context["intent"] = intent
        next_()
        return None

    return authorize


def _intent(body: dict[str, Any]) -> Intent | None:
    if body.get("command"):
        return parse_command(
            str(body.get("text") or ""),
            user=str(body.get("user_id") or ""),
            channel=body.get("channel_id"),
        )
    return intent_from_action(body)


def ephemeral(client: WebClient, intent: Intent, text: str) -> None:
    """Tell only the clicker; in App Home (no channel) a DM is the only place to say it."""
    try:
        if intent.channel:
            client.chat_postEphemeral(channel=intent.channel, user=intent.user, text=text)
        else:
            client.chat_postMessage(channel=intent.user, text=text)
    except SlackClientError as exc:
        log.warning("could not tell %s: %s", intent.user, exc)
