"""Operator intents from Slack (buttons, `/steadfast`, App Home), who may perform them, and
performing them against the store. Parsing and authorisation happen in middleware
(middleware.py); listeners only perform an intent that was already allowed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.console.links import ConsoleLinks
from bot.errors import IllegalTransition, JobNotFound, NotWaiting
from bot.model import EventKind, OperatorAction
from bot.slack.errors import UsageError
from bot.slack.messages import APPROVAL_ACTIONS, FEEDBACK_ACTIONS, OP_ACTIONS
from bot.store.store import Store
from bot.waits import require_wait
from policy.document import Policy
from policy.source import PolicySource

log = logging.getLogger(__name__)

USAGE = (
    "Usage: `/steadfast status JOB` · `/steadfast jobs` · "
    "`/steadfast pause|resume|cancel|retry JOB [reason]` · `/steadfast answer JOB text` · "
    "`/steadfast approve|deny JOB` · `/steadfast console [TENANT]`"
)
# the policy permission each intent needs; None: anyone in the workspace may do it
PERMISSION: dict[str, str | None] = {
    "pause": "pause",
    "resume": "resume",
    "cancel": "cancel",
    "retry": "retry",
    "approve": "approve",
    "deny": "approve",
    "answer": "answer",
    "console": "console",  # a link to the tenant's jobs in the trace console
    "feedback": None,
    "status": None,
    "jobs": None,
    "help": None,
}


@dataclass(frozen=True, slots=True)
class Intent:
    action: str
    user: str
    job_id: str | None = None
    text: str = ""
    channel: str | None = None
    source: str = "command"  # command | button | home
    value: bool | None = None  # feedback: helpful?

    @property
    def permission(self) -> str | None:
        return PERMISSION[self.action]


def parse_command(text: str, *, user: str, channel: str | None) -> Intent:
    words = text.strip().split(maxsplit=2)
    if not words or words[0] in ("help", "-h", "--help"):
        return Intent("help", user, channel=channel)
    verb = words[0].lower()
    if verb == "jobs":
        return Intent("jobs", user, channel=channel)
    if verb == "console":  # the tenant is optional: the channel's tenant by default
        return Intent("console", user, text=words[1] if len(words) > 1 else "", channel=channel)
    if verb not in PERMISSION or verb in ("feedback", "help"):
        raise UsageError(f"unknown subcommand `{verb}`. {USAGE}")
    if len(words) < 2:
        raise UsageError(f"`{verb}` needs a job id. {USAGE}")
    rest = words[2] if len(words) > 2 else ""
    if verb == "answer" and not rest.strip():
        raise UsageError("`answer` needs the answer text: `/steadfast answer JOB text`")
    return Intent(verb, user, job_id=words[1], text=rest, channel=channel)


def intent_from_action(body: dict[str, Any]) -> Intent | None:
    """The intent of a `block_actions` click on one of our buttons, else None."""
    actions = body.get("actions") or []
    if body.get("type") != "block_actions" or not actions:
        return None
    action = actions[0]
    action_id, job_id = str(action.get("action_id", "")), str(action.get("value", ""))
    user = str((body.get("user") or {}).get("id", ""))
    channel = (body.get("channel") or {}).get("id")
    source = "home" if (body.get("container") or {}).get("type") == "view" else "button"
    if action_id in OP_ACTIONS:
        return Intent(OP_ACTIONS[action_id], user, job_id, channel=channel, source=source)
    if action_id in APPROVAL_ACTIONS:
        verb = "approve" if APPROVAL_ACTIONS[action_id] else "deny"
        return Intent(verb, user, job_id, channel=channel, source=source)
    if action_id in FEEDBACK_ACTIONS:
        return Intent(
            "feedback",
            user,
            job_id,
            channel=channel,
            source=source,
            value=FEEDBACK_ACTIONS[action_id],
        )
    return None


class OperatorDirectory:
    """Answers "may this user do that?" from the policy's `operators`, resolving user-group
    membership with `usergroups.users.list` (cached). Fails closed: if Slack cannot say who is
    in a group, nobody is in it."""

    def __init__(
        self,
        client: WebClient,
        policy: PolicySource,
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._policy = policy
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _group_members(self, group: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            users = self._client.usergroups_users_list(usergroup=group).get("users") or []
            members = frozenset(str(u) for u in users)
        except SlackClientError as exc:
            log.warning("cannot list user group %s (%s): treating it as empty", group, exc)
            return frozenset()
        with self._lock:
            self._members[group] = (now + self._ttl, members)
        return members

    def policy(self) -> Policy:
        """The policy in force (it may have been reloaded)."""
        return self._policy.current()

    def usergroups_of(self, user: str) -> list[str]:
        groups = {g for grant in self._policy.current().operators.grants for g in grant.usergroups}
        return sorted(g for g in groups if user in self._group_members(g))

    def allowed(self, user: str, permission: str) -> bool:
        if not user:
            return False
        operators = self._policy.current().operators
        if operators.allowed(user, [], permission):
            return True
        return operators.allowed(user, self.usergroups_of(user), permission)


def audit_refusal(store: Store, intent: Intent) -> None:
    if not intent.job_id:
        return
    try:
        store.human_event(
            intent.job_id,
            EventKind.OPERATOR_REFUSED,
            {"by": intent.user, "action": intent.action, "source": intent.source},
            requeue=False,
        )
    except JobNotFound:
        log.info("refused %s by %s on unknown job %s", intent.action, intent.user, intent.job_id)


def console_reply(intent: Intent, policy: Policy, links: ConsoleLinks | None) -> str:
    """The reply to `/steadfast console [TENANT]` by an operator allowed to use it: a link to
    the tenant's job list, for this user's eyes only (the reply is ephemeral)."""
    if links is None:
        return (
            ":warning: The trace console is not set up here (STEADFAST_CONSOLE_PORT and "
            "STEADFAST_CONSOLE_PUBLIC_BASE_URL); see docs/console.md."
        )
    tenant = intent.text.strip() or policy.tenant_for_channel(intent.channel)
    known = ", ".join(f"`{t}`" for t in sorted(policy.tenants)) or "none in the policy"
    if not tenant:
        return (
            f"This channel belongs to no tenant; say which: `/steadfast console TENANT` ({known})"
        )
    if tenant not in policy.tenants:
        return f"No tenant `{tenant}` in the policy (tenants: {known})."
    ttl = policy.console.tenant_link_ttl_seconds
    log.info("console: tenant link for %s handed to %s", tenant, intent.user)
    return (
        f"<{links.tenant_url(tenant)}|Open {tenant}'s jobs in the trace console> "
        f"(read-only; the link works for {_duration(ttl)} and is only for you: do not share it)"
    )


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


def perform(store: Store, intent: Intent, describe: Callable[[str], str]) -> str:
    """Do an allowed intent; returns the reply for the user (mrkdwn)."""
    job_id = intent.job_id or ""
    try:
        if intent.action in ("pause", "resume", "cancel", "retry"):
            reason = intent.text or f"via Slack {intent.source}"
            job = store.operator(
                job_id, OperatorAction(intent.action), by=intent.user, reason=reason
            )
            return f"`{job.id}`: {intent.action} accepted; it is now *{job.status.value}*"
        if intent.action in ("approve", "deny"):
            approved = intent.action == "approve"
            require_wait(store, job_id, "approval")
            store.human_event(
                job_id, EventKind.APPROVAL, {"by": intent.user, "approved": approved}, requeue=True
            )
            return f"`{job_id}`: {'approved' if approved else 'denied'} by <@{intent.user}>"
        if intent.action == "answer":
            require_wait(store, job_id, "question")
            store.human_event(
                job_id,
                EventKind.HUMAN_ANSWER,
                {"by": intent.user, "text": intent.text, "source": intent.source},
                requeue=True,
            )
            return f"`{job_id}`: answer recorded; the investigation resumes"
        if intent.action == "feedback":
            store.human_event(
                job_id,
                EventKind.FEEDBACK,
                {"helpful": bool(intent.value), "by": intent.user},
                requeue=False,
            )
            return "Thanks, feedback recorded."
        if intent.action == "status":
            return describe(job_id)
    except (JobNotFound, IllegalTransition, NotWaiting) as exc:
        return f":warning: {exc}"
    return USAGE
