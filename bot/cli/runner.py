"""CLI command: `steadfast runner` — serve gate-approved commands for the worker on a socket."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import typer

from bot.cli.common import errors_to_exit, fail, load_settings
from core.scrubber import Scrubber
from policy.loader import PolicyLoader
from sandbox.runner import (
    SANDBOX_CHOICES,
    RunnerClient,
    RunnerConfig,
    RunnerServer,
    RunnerService,
    secret_env_present,
)

log = logging.getLogger("steadfast.runner")


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def runner(
        exit_with_stdin: bool = typer.Option(
            False,
            "--exit-with-stdin",
            help="Stop when stdin closes (a local runner dies with the worker that started it).",
        ),
        probe: bool = typer.Option(
            False,
            "--probe",
            help="Ask the runner on STEADFAST_RUNNER_SOCKET to describe itself; exit 1 when "
            "it does not answer (a container probe).",
        ),
    ) -> None:
        """Run gate-approved commands for the worker over STEADFAST_RUNNER_SOCKET. Holds no
        secret: only the policy and STEADFAST_RUNNER_KUBECONFIG. SIGTERM stops it."""
        settings = load_settings()
        if probe:
            _probe(settings.runner_socket)
            return
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        present = secret_env_present(os.environ)
        if present:
            fail(
                "the runner must hold no secrets, but its environment sets "
                + ", ".join(present)
                + "; start it without them (in the chart it is its own container)"
            )
        if settings.runner_socket is None:
            fail("STEADFAST_RUNNER_SOCKET is not set: the runner needs a socket path to listen on")
        config = RunnerConfig(
            socket_path=settings.runner_socket,
            kubeconfig=settings.runner_kubeconfig,
            bin_dir=settings.runner_bin_dir,
            sandbox=SANDBOX_CHOICES[settings.runner_sandbox],
        )
        with errors_to_exit():
            loader = PolicyLoader(settings.policy)
            # The runner knows no secret values; the scrubber's detectors still catch the
            # shapes of secrets nobody registered before any filter stage sees them.
            service = RunnerService(config, loader.current, Scrubber().scrub)
            server = RunnerServer(service)
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping the runner", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        thread = threading.Thread(target=server.serve_forever, name="runner", daemon=True)
        thread.start()
        if exit_with_stdin:
            threading.Thread(target=_until_eof, args=(stop,), name="lifeline", daemon=True).start()
        mode = service.describe()
        log.info("runner: isolation %s %s", mode["mode"], mode["reason"])
        # LocalRunner waits for this line: the socket accepts connections from here on.
        sys.stdout.write(f"runner listening on {config.socket_path}\n")
        sys.stdout.flush()
        stop.wait()
        server.shutdown()


def _until_eof(stop: threading.Event) -> None:
    while sys.stdin.buffer.read(4096):
        pass
    log.info("stdin closed: the worker that started this runner is gone")
    stop.set()


def _probe(socket_path: Path | None) -> None:
    if socket_path is None:
        fail("STEADFAST_RUNNER_SOCKET is not set")
    with errors_to_exit():
        report = RunnerClient(socket_path).describe()
    sys.stdout.write(f"runner ok: {report['mode']} {report['reason']}\n".replace(" \n", "\n"))
