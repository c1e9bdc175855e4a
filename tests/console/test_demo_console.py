"""`steadfast demo` in a terminal keeps the trace console up until Ctrl-C; piped (and with
--json) it exits as soon as the report is printed, as it always did."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
URL = re.compile(r"Open the trace: (http://127\.0\.0\.1:\d+/jobs/\S+)")
HANG = 600.0  # seconds without the prompt: only catches a hang


def _read_until(fd: int, proc: subprocess.Popen[bytes], pattern: re.Pattern[str]) -> str:
    """Everything the demo printed up to the first match of `pattern` (ANSI codes removed)."""
    seen = ""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 5.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal closed: the process ended
                chunk = b""
            if not chunk:
                break
            seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
            if pattern.search(seen.replace("\r", "")):
                return seen.replace("\r", "")
        elif proc.poll() is not None:
            break
    raise AssertionError(f"the demo never printed {pattern.pattern!r}; it printed:\n{seen[-4000:]}")


def test_in_a_terminal_the_console_stays_up_until_ctrl_c(tmp_path: Path) -> None:
    main, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--workdir", str(tmp_path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "400"},
    )
    os.close(terminal)
    try:
        printed = _read_until(main, proc, re.compile(r"stays up until you press Ctrl-C"))
        found = URL.search(printed)
        assert found, printed[-3000:]
        page = httpx.get(found.group(1), timeout=60)
        assert page.status_code == 200 and "Escalated to on-call" in page.text
        assert proc.poll() is None  # still serving
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(found.group(1), timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
