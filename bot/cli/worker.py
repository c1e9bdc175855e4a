"""CLI command: `steadfast worker`."""

from __future__ import annotations

import logging
import os
import signal
import socket
from types import FrameType

import typer

from bot import waits
from bot.cli.common import errors_to_exit, load_settings, process_scrubber, startup_policy
from bot.metrics import Metrics
from bot.ops.wiring import policy_check, start_health
from bot.slack.notifier import SlackNotifier
from bot.store import open_store
from bot.tracing import Tracing
from bot.worker import Worker, build_handler
from bot.worker.handlers import HandlerName

log = logging.getLogger("steadfast.worker")


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def worker(
        concurrency: int = typer.Option(
            None, "--concurrency", "-c", min=1, help="Jobs at once \\[env STEADFAST_CONCURRENCY]."
        ),
        name: str = typer.Option(
            None, "--name", help="Worker name in leases and events \\[env STEADFAST_WORKER_NAME]."
        ),
        handler: HandlerName = typer.Option(
            HandlerName.agent,
            "--handler",
            envvar="STEADFAST_HANDLER",
            help="What runs each job: the model-driven agent, or a scripted stand-in.",
        ),
        until_idle: bool = typer.Option(
            False, "--until-idle", help="Exit when the queue is empty and no job is running."
        ),
    ) -> None:
        """Claim and run jobs. SIGTERM/SIGINT: finish the current step, release, exit."""
        settings = load_settings(concurrency=concurrency, worker_name=name)
        scrubber = process_scrubber(settings)
        worker_name = settings.worker_name or f"{socket.gethostname()}-{os.getpid()}"
        metrics = Metrics()
        policy_loader = startup_policy(settings)  # before the database: exit 2 on a bad path
        with errors_to_exit():
            tracing = Tracing.from_settings(settings, service="steadfast-worker")
            store = open_store(settings)
            try:
                # Slack-born jobs report through outbox rows that `steadfast bot` sends;
                # for CLI jobs (no channel) the Slack notifier writes nothing.
                job_handler = build_handler(
                    handler,
                    settings,
                    store,
                    policy_loader,
                    notifier=SlackNotifier(policy_loader),
                    metrics=metrics,
                    environ=dict(os.environ),  # the entry point hands down the environment
                    scrubber=scrubber,
                    tracing=tracing,
                )
                w = Worker.from_settings(
                    settings,
                    store,
                    job_handler,
                    name=worker_name,
                    metrics=metrics,
                    sweep=lambda: waits.sweep(store, policy_loader.current().waits),
                    tracing=tracing,
                )

                def _graceful(signum: int, _frame: FrameType | None) -> None:
                    log.info("signal %d: finishing current steps, then releasing", signum)
                    w.stop()
                    # A second signal falls through to the default: exit now (the leases expire
                    # and the reaper requeues).
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.default_int_handler)

                previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
                signal.signal(signal.SIGTERM, _graceful)
                signal.signal(signal.SIGINT, _graceful)
                server = start_health(
                    settings, metrics, store, policy_loaded=policy_check(policy_loader)
                )
                try:
                    w.run(until_idle=until_idle)
                finally:
                    for signum, handler_ in previous.items():
                        signal.signal(signum, handler_)
                    if server is not None:
                        server.stop()
            finally:
                store.close()
                tracing.shutdown()  # export the spans still buffered
