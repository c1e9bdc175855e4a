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

from bot.cli.common import errors_to_exit, fail, load_settings, process_scrubber
from bot.metrics import Metrics
from bot.ops.wiring import policy_check, start_health
from bot.settings import Settings
from bot.slack.app import SlackBot, build_bot
from bot.slack.notifier import SlackNotifier
from bot.slack.serve import HttpBot, SocketBot
from bot.store import open_store
from bot.store.store import Store
from bot.tracing import Tracing
from policy.loader import PolicyLoader

log = logging.getLogger("steadfast.bot")


class Mode(StrEnum):
    socket = "socket"
    http = "http"


def _mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        fail(f"--mode must be socket or http, not {value!r}")


def _logging(settings: Settings) -> None:
    process_scrubber(settings)


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
    settings: Settings, store: Store, mode: Mode, host: str, port: int, workers: str | None
) -> None:
    policy = PolicyLoader(settings.policy)
    if policy.error:
        log.warning("policy: %s (denying every command until it is fixed)", policy.error)
    metrics = Metrics()
    tracing = Tracing.from_settings(settings, service="steadfast-bot")
    bot = build_bot(settings, store, policy, http=mode == Mode.http, tracing=tracing)
    bot.start_dispatcher()
    front = _front_door(bot, settings, mode, host, port)
    health = start_health(settings, metrics, store, policy_loaded=policy_check(policy))
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
        if health is not None:
            health.stop()
        tracing.shutdown()  # export the spans still buffered


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def bot(
        mode: str = typer.Option(
            "socket",
            "--mode",
            envvar="STEADFAST_SLACK_MODE",
            help="socket (SLACK_APP_TOKEN) or http (SLACK_SIGNING_SECRET) [env STEADFAST_SLACK_MODE].",
        ),
        port: int = typer.Option(3000, "--port", envvar="PORT", help="HTTP mode port [env PORT]."),
        host: str = typer.Option("0.0.0.0", "--host", help="HTTP mode bind address."),
    ) -> None:
        """Run the Slack bot: mentions in, operators' buttons and commands, the outbox out.
        Run one bot per installation (it is the only sender of the outbox)."""
        settings = load_settings()
        _logging(settings)
        with errors_to_exit():
            store = open_store(settings)
            try:
                _serve(settings, store, _mode(mode), host, port, workers=None)
            finally:
                store.close()

    @app.command()
    def run(
        mode: str = typer.Option(
            "socket", "--mode", envvar="STEADFAST_SLACK_MODE", help="socket or http"
        ),
        port: int = typer.Option(3000, "--port", envvar="PORT"),
        host: str = typer.Option("0.0.0.0", "--host"),
        handler: str = typer.Option(
            "agent", "--handler", envvar="STEADFAST_HANDLER", help="agent | scripted"
        ),
        concurrency: int = typer.Option(
            None, "--concurrency", "-c", min=1, help="Jobs at once [env STEADFAST_CONCURRENCY]."
        ),
    ) -> None:
        """Bot and workers in one process (small installs). SIGTERM: stop taking work, finish
        the current steps, release them, exit."""
        settings = load_settings(concurrency=concurrency)
        _logging(settings)
        with errors_to_exit():
            store = open_store(settings)
            try:
                _serve(settings, store, _mode(mode), host, port, workers=handler)
            finally:
                store.close()
