"""CLI commands: `steadfast bot` (the Slack front door and outbox sender) and `steadfast run`
(bot and workers in one process, for small installs)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from enum import StrEnum
from types import FrameType

import typer

from bot.alerts.wiring import alert_posts, separate_alert_server, settings_scrubber
from bot.cli.common import (
    errors_to_exit,
    load_settings,
    process_scrubber,
    startup_policy,
    usage_error,
)
from bot.console.server import ConsoleServer
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.ops.wiring import policy_check, start_health
from bot.settings import Settings
from bot.slack.app import SlackBot, build_bot
from bot.slack.notifier import SlackNotifier
from bot.slack.serve import HttpBot, SocketBot
from bot.store import open_store
from bot.store.store import Store
from bot.tracing import Tracing
from bot.wiring import build_console, console_links
from bot.worker.handlers import HandlerName
from core.scrubber import Scrubber
from policy.loader import PolicyLoader

log = logging.getLogger("steadfast.bot")


class Mode(StrEnum):
    socket = "socket"
    http = "http"


def require_slack(settings: Settings, mode: Mode) -> None:
    """What the chosen mode needs, checked before anything touches the database or Slack."""
    if settings.slack_bot_token is None:
        usage_error(
            "SLACK_BOT_TOKEN is not set: install the app (slack/manifest.yaml) and set its "
            "bot token (xoxb-…)"
        )
    if mode == Mode.socket:
        app_token = settings.slack_app_token
        if app_token is None:
            usage_error(
                "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…, scope "
                "connections:write); set it, or run with --mode http and SLACK_SIGNING_SECRET"
            )
        if not app_token.get_secret_value().startswith("xapp-"):
            usage_error(
                "SLACK_APP_TOKEN is not an app-level token (those start with xapp-); generate "
                "one under Basic Information → App-Level Tokens with connections:write"
            )
    elif settings.slack_signing_secret is None:
        usage_error(
            "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
            "(Basic Information → Signing Secret); set it, or run with --mode socket"
        )


def _logging(settings: Settings) -> Scrubber:
    return process_scrubber(settings)


def _console(
    settings: Settings, store: Store, policy: PolicyLoader, scrubber: Scrubber
) -> ConsoleServer | None:
    """The trace console on `console_port`, when set (docs/console.md)."""
    if settings.console_port is None:
        return None
    app = build_console(settings, store, policy, scrubber)
    try:
        server = ConsoleServer(app, host=settings.console_host, port=settings.console_port)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve the console on {settings.console_host}:{settings.console_port}: "
            f"{exc}; pick another STEADFAST_CONSOLE_PORT"
        ) from exc
    server.start()
    log.info(
        "trace console on %s:%d (links: %s)",
        settings.console_host,
        server.port,
        settings.console_public_base_url or "none: set STEADFAST_CONSOLE_PUBLIC_BASE_URL",
    )
    return server


def _front_door(
    bot: SlackBot, settings: Settings, mode: Mode, host: str, port: int
) -> HttpBot | SocketBot:
    if mode == Mode.http:
        server = HttpBot(bot, host=host, port=port).start()
        log.info("HTTP mode: Slack events at http://%s:%d/slack/events", host, server.port)
        return server
    log.info("Socket Mode: connecting with the app token")
    return SocketBot(bot, settings).start()


def _wait_for_signal() -> None:
    stop = threading.Event()

    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    stop.wait()


def _serve(
    settings: Settings,
    store: Store,
    policy: PolicyLoader,
    mode: Mode,
    host: str,
    port: int,
    workers: str | None,
    scrubber: Scrubber,
) -> None:
    metrics = Metrics()
    tracing = Tracing.from_settings(settings, service="steadfast-bot")
    bot = build_bot(
        settings,
        store,
        policy,
        http=mode == Mode.http,
        metrics=metrics,
        tracing=tracing,
        console_links=console_links(settings, policy),
    )
    console = _console(settings, store, policy, scrubber)
    # before anything starts: a token without a port is a configuration error
    posts = alert_posts(
        settings,
        store,
        policy,
        scrub=settings_scrubber(settings).scrub,
        metrics=metrics,
        on_outbox=bot.dispatcher.wake,
        tracing=tracing,
    )
    bot.start_dispatcher()
    front = _front_door(bot, settings, mode, host, port)
    alerts = separate_alert_server(settings, metrics, posts)
    health = start_health(
        settings,
        metrics,
        store,
        policy_loaded=policy_check(policy),
        posts=None if alerts is not None else posts,
    )
    worker = None
    worker_thread = None
    if workers is not None:
        from bot.worker import Worker, build_handler  # the job core; only `run` needs it

        handler = build_handler(
            workers,
            settings,
            store,
            policy,
            notifier=SlackNotifier(policy),
            metrics=metrics,
            environ=dict(os.environ),
            tracing=tracing,
        )
        name = settings.worker_name or f"{socket.gethostname()}-{os.getpid()}"
        worker = Worker.from_settings(
            settings, store, handler, name=name, metrics=metrics, tracing=tracing
        )
        worker_thread = threading.Thread(target=worker.run, name="worker", daemon=True)
        worker_thread.start()
    try:
        _wait_for_signal()
    finally:
        front.stop()
        if worker is not None and worker_thread is not None:
            worker.stop()  # current steps finish and are released to the queue
            worker_thread.join()
        bot.stop()
        if console is not None:
            console.stop()
        if health is not None:
            health.stop()
        if alerts is not None:
            alerts.stop()
        tracing.shutdown()  # export the spans still buffered


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def bot(
        mode: Mode = typer.Option(
            Mode.socket,
            "--mode",
            envvar="STEADFAST_SLACK_MODE",
            help="socket (SLACK_APP_TOKEN) or http (SLACK_SIGNING_SECRET).",
        ),
        port: int = typer.Option(3000, "--port", envvar="PORT", help="HTTP mode port."),
        host: str = typer.Option("0.0.0.0", "--host", help="HTTP mode bind address."),
    ) -> None:
        """Run the Slack bot: mentions in, operators' buttons and commands, the outbox out.
        Several bots may run: one at a time, elected through the database, sends the outbox."""
        settings = load_settings()
        require_slack(settings, mode)
        policy = startup_policy(settings)
        scrubber = _logging(settings)
        with errors_to_exit():
            store = open_store(settings)
            try:
                _serve(settings, store, policy, mode, host, port, workers=None, scrubber=scrubber)
            finally:
                store.close()

    @app.command()
    def run(
        mode: Mode = typer.Option(
            Mode.socket,
            "--mode",
            envvar="STEADFAST_SLACK_MODE",
            help="socket (SLACK_APP_TOKEN) or http (SLACK_SIGNING_SECRET).",
        ),
        port: int = typer.Option(3000, "--port", envvar="PORT"),
        host: str = typer.Option("0.0.0.0", "--host"),
        handler: HandlerName = typer.Option(
            HandlerName.agent,
            "--handler",
            envvar="STEADFAST_HANDLER",
            help="What runs each job: the model-driven agent, or a scripted stand-in.",
        ),
        concurrency: int = typer.Option(
            None, "--concurrency", "-c", min=1, help="Jobs at once \\[env STEADFAST_CONCURRENCY]."
        ),
    ) -> None:
        """Bot and workers in one process (small installs). SIGTERM: stop taking work, finish
        the current steps, release them, exit."""
        settings = load_settings(concurrency=concurrency)
        require_slack(settings, mode)
        policy = startup_policy(settings)
        scrubber = _logging(settings)
        with errors_to_exit():
            store = open_store(settings)
            try:
                _serve(
                    settings, store, policy, mode, host, port, workers=handler, scrubber=scrubber
                )
            finally:
                store.close()
