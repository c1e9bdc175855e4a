"""The project's kubectl (`make tools` caches v1.35 in .cache/tools/bin) for the tests that drive
the Kubernetes emulator with it. Missing binary: the test is skipped, or fails when
STEADFAST_REQUIRE_TOOLS=1 (CI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def kubectl_binary() -> Path:
    candidate = Path(os.environ.get("STEADFAST_KUBECTL") or REPO / ".cache/tools/bin/kubectl")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    message = f"no kubectl at {candidate}; run `make tools` (or set STEADFAST_KUBECTL)"
    if os.environ.get("STEADFAST_REQUIRE_TOOLS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class Kubectl:
    """kubectl pointed at one server, with its own HOME so no user kubeconfig or discovery
    cache leaks in."""

    def __init__(self, binary: Path, server: str, home: Path) -> None:
        self.binary, self.server, self.home = binary, server, home

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), "--server", self.server, *args]

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "PATH": "/usr/bin:/bin"}

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=60, env=self.env
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
