"""Wiring: the Bolt app, its middleware and thin listeners, the outbox dispatcher.

Slack gets its acknowledgement only after the work is durable (`process_before_response=True`):
a mention's job and outbox rows are committed before Bolt answers, so a bot killed at any
moment either acknowledged a stored job or acknowledged nothing and Slack delivers the event
again (the job's idempotency key makes that redelivery a no-op). A listener that fails answers
500, which Slack also redelivers. Listeners that call Slack themselves (App Home, buttons) ack
at once and do that part as Bolt lazy listeners, off the 3-second clock.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.alerts.keys import alert_thread_recorder
from bot.console.links import ConsoleLinks
from bot.metrics import Metrics
from bot.paging.sender import PageSender
from bot.settings import Settings
from bot.slack import home
from bot.slack.errors import SlackConfigError
from bot.slack.intake import Intake
from bot.slack.middleware import authorize_operators, ephemeral
from bot.slack.operators import USAGE, Intent, OperatorDirectory, console_reply, perform
from bot.slack.outbox import OutboxDispatcher
from bot.slack.stopped import StoppedJobs
from bot.store.store import Store
from bot.tracing import Tracing
from bot.wiring import paging_config
from integrations.paging import Pager
from policy.source import PolicySource

log = logging.getLogger(__name__)


def web_client(settings: Settings, *, rate_limit_retries: int = 3, timeout: int = 10) -> WebClient:
    """A WebClient aimed at `settings.slack_api_url` that waits out 429s (Retry-After)."""
    if settings.slack_bot_token is None:
        raise SlackConfigError("SLACK_BOT_TOKEN is not set; the bot cannot talk to Slack")
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)],
    )


def slack_permalink(client: WebClient, channel: str, ts: str) -> str | None:
    """A message's permalink for a page's details; None when Slack cannot say now."""
    try:
        link = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except (SlackClientError, OSError):
        return None
    return str(link) if link else None


@dataclass
class SlackBot:
    app: App
    client: WebClient
    store: Store
    intake: Intake
    directory: OperatorDirectory
    dispatcher: OutboxDispatcher
    stopped: StoppedJobs
    signing_secret: str | None = field(default=None, repr=False)  # HTTP mode only
    links: ConsoleLinks | None = None  # the trace console's links; None: no console

    def start_dispatcher(self) -> None:
        self.dispatcher.start()
        self.stopped.start()

    def stop(self) -> None:
        self.stopped.stop()
        self.dispatcher.stop()


def build_bot(
    settings: Settings,
    store: Store,
    policy: PolicySource,
    *,
    http: bool,
    update_interval: float = 1.0,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    console_links: ConsoleLinks | None = None,
) -> SlackBot:
    """Build the bot. `http=True` verifies signatures (HTTP mode); Socket Mode needs none.
    `console_links`: the trace console's, for the handoff's "Open the trace" link and
    `/steadfast console`; None leaves both out."""
    if http and settings.slack_signing_secret is None:
        raise SlackConfigError("SLACK_SIGNING_SECRET is not set; HTTP mode cannot verify Slack")
    client = web_client(settings)
    # the dispatcher gets a client of its own: its rate-limit waits must not stall listeners
    # and sends only while it holds the sender lease, so several bots can share one database
    sender_client = web_client(settings)
    pages = PageSender(
        store,
        Pager(paging_config(settings)),
        metrics=metrics,
        permalink=lambda channel, ts: slack_permalink(sender_client, channel, ts),
    )
    dispatcher = OutboxDispatcher(
        store,
        sender_client,
        pages=pages,
        update_interval=update_interval,
        lease_ttl=settings.sender_lease_ttl_seconds,
        metrics=metrics,
        tracing=tracing,
        links=console_links,
        on_sent=alert_thread_recorder(store),
    )
    try:
        app = App(
            client=client,
            signing_secret=(
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else None
            ),
            request_verification_enabled=http,
            process_before_response=True,
            token_verification_enabled=True,
            raise_error_for_unhandled_request=False,
        )
    except (SlackClientError, OSError) as exc:  # Bolt's own auth.test; URLError is an OSError
        raise SlackConfigError(
            f"cannot verify the bot token at {settings.slack_api_url}: {exc}; check "
            "SLACK_BOT_TOKEN and SLACK_API_URL (`steadfast doctor` checks both)"
        ) from exc
    try:
        bot_user_id = client.auth_test().get("user_id")
    except SlackClientError as exc:
        raise SlackConfigError(f"auth.test failed at {settings.slack_api_url}: {exc}") from exc
    directory = OperatorDirectory(client, policy)
    intake = Intake(
        store,
        policy,
        bot_user_id=bot_user_id,
        may_answer=lambda user: directory.allowed(user, "answer"),
        on_outbox=dispatcher.wake,
        tracing=tracing,
    )
    stopped = StoppedJobs(store, on_outbox=dispatcher.wake, policy=policy)
    bot = SlackBot(app, client, store, intake, directory, dispatcher, stopped, links=console_links)
    if http and settings.slack_signing_secret is not None:
        bot.signing_secret = settings.slack_signing_secret.get_secret_value()
    _register(bot)
    return bot


def _register(bot: SlackBot) -> None:
    app, store = bot.app, bot.store

    def describe(job_id: str) -> str:
        return home.status_text(store, job_id)

    app.use(authorize_operators(store, bot.directory, bot.client))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        outcome = bot.intake.mention(event, team=str(body.get("team_id") or ""))
        log.info(
            "mention %s/%s: %s %s", event.get("channel"), event.get("ts"), *outcome_parts(outcome)
        )

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        bot.intake.thread_reply(event, team=str(body.get("team_id") or ""))

    def on_home(event: dict[str, Any]) -> None:
        publish_home(bot, str(event.get("user") or ""))

    app.event("app_home_opened")(ack=_ack, lazy=[on_home])

    @app.command("/steadfast")
    def on_command(ack: Ack, context: BoltContext) -> None:
        intent: Intent | None = context.get("intent")
        if intent is None:
            ack(text=USAGE, response_type="ephemeral")
            return
        if intent.action == "jobs":
            ack(text=home.jobs_text(store), response_type="ephemeral")
            return
        if intent.action == "console":
            reply = console_reply(intent, bot.directory.policy(), bot.links)
            ack(text=reply, response_type="ephemeral")
            return
        reply = perform(store, intent, describe)
        ack(text=reply, response_type="ephemeral")

    def on_action(ack: Ack, context: BoltContext) -> None:
        intent: Intent | None = context.get("intent")
        if intent is not None:
            context["reply"] = perform(store, intent, describe)
        ack()

    def answer_action(context: BoltContext) -> None:
        intent: Intent | None = context.get("intent")
        reply: str | None = context.get("reply")
        if intent is None or reply is None:
            return
        if intent.source == "home":
            publish_home(bot, intent.user)
        if intent.action != "feedback" or intent.channel:
            ephemeral(bot.client, intent, reply)

    # the click is recorded before the ack; Slack's own API calls run lazily, after it
    app.action(re.compile(r"^steadfast_"))(ack=on_action, lazy=[answer_action])


def _ack(ack: Ack) -> None:
    ack()


def outcome_parts(outcome: Any) -> tuple[str, str]:
    return outcome.action, outcome.job_id or "-"


def publish_home(bot: SlackBot, user: str) -> None:
    if not user:
        return
    try:
        bot.client.views_publish(user_id=user, view=home.home_view(bot.store))
    except SlackClientError as exc:
        log.warning("could not publish App Home for %s: %s", user, exc)
