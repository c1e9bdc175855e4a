"""M worker subprocesses (`steadfast worker`), each one SIGKILLable and restartable."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


class WorkerPool:
    """Slot i always has one process; a kill replaces it with a new one at once (the dead
    worker's jobs come back when its lease expires and the reaper requeues them)."""

    def __init__(self, env: dict[str, str], logdir: Path, size: int, *, concurrency: int) -> None:
        self.env = env
        self.logdir = logdir
        self.concurrency = concurrency
        self.procs: list[subprocess.Popen[bytes]] = []
        self.generation = [0] * size
        self.kills = 0
        for slot in range(size):
            self.procs.append(self._spawn(slot))

    def _spawn(self, slot: int) -> subprocess.Popen[bytes]:
        name = f"chaos-w{slot}-g{self.generation[slot]}"
        with (self.logdir / f"{name}.log").open("wb") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--name",
                    name,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill_and_restart(self, slot: int) -> None:
        proc = self.procs[slot]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills += 1
        self.generation[slot] += 1
        self.procs[slot] = self._spawn(slot)

    def ensure_alive(self) -> int:
        """Restart any worker that exited on its own; returns how many did (it should be 0)."""
        died = 0
        for slot, proc in enumerate(self.procs):
            if proc.poll() is not None:
                died += 1
                self.generation[slot] += 1
                self.procs[slot] = self._spawn(slot)
        return died

    def started(self) -> int:
        """How many of the current processes have started (logged their start line): on a busy
        machine starting Python and every SDK takes long, and the drain counts it as progress."""
        return sum(
            f"worker {name} started" in (self.logdir / f"{name}.log").read_text(errors="replace")
            for name in self.names()
        )

    def names(self) -> list[str]:
        return [f"chaos-w{slot}-g{gen}" for slot, gen in enumerate(self.generation)]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
