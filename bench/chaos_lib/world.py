"""Every emulator in this process, plus a timestamped log of the model requests.

The Anthropic emulator counts a request as `repeated` when it answered that exact conversation
before. That cannot tell a design violation (asking again for a response the job's log already
holds) from the allowed case (the one request in flight when its worker died: answered, never
recorded). The checks need the arrival time of each request and the time each answer left, so
this subclass keeps both through the emulator's own hooks (`record`, `messages`)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.demo.stack import Stack
from emulators.anthropic import AnthropicEmulator, compacted
from emulators.base import DEFAULT_SCENARIO, Request, Response, load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import LokiEmulator
from emulators.platform import PlatformEmulator
from emulators.slack import SlackEmulator
from emulators.vault import VaultEmulator

CHAOS_SCRIPT = DEFAULT_SCENARIO.parent / "anthropic_chaos.yaml"
SCRIPTS = ("chaos-alpha", "chaos-beta", "chaos-gamma")


@dataclass(slots=True)
class ModelCall:
    """One request to `/v1/messages`: which job and step asked, when it arrived, and (when the
    emulator's handler ran) when its answer left and with what status. A request refused by an
    injected fault never reaches the handler: `answered` stays None."""

    job: str
    step: int
    arrived: float
    answered: float | None = None
    status: int | None = None


def _job_and_step(request: Request) -> tuple[str, int] | None:
    try:
        body = json.loads(request.body or b"null")
        messages = body["messages"]
        job = str((body.get("metadata") or {}).get("user_id") or "anonymous")
        step = 1 + sum(1 for m in messages if m["role"] == "assistant") + compacted(messages)
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return job, step


class RecordingAnthropic(AnthropicEmulator):
    """The Anthropic emulator, keeping every model request with its timestamps (faulted ones
    included: a request refused with 429 is still a request)."""

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        self._calls: list[ModelCall] = []
        self._calls_lock = threading.Lock()
        # `record` and then `messages` run on the same request thread: this carries the entry
        self._current = threading.local()

    def record(self, request: Request) -> None:
        super().record(request)
        self._current.call = None
        if request.path != "/v1/messages":
            return
        found = _job_and_step(request)
        if found is not None:
            call = ModelCall(found[0], found[1], time.time())
            self._current.call = call
            with self._calls_lock:
                self._calls.append(call)

    def messages(self, request: Request) -> Response:
        response = super().messages(request)
        call: ModelCall | None = getattr(self._current, "call", None)
        if call is not None:
            with self._calls_lock:
                call.answered, call.status = time.time(), response.status
        return response

    def log(self) -> list[ModelCall]:
        """Every model request so far, in arrival order (copies)."""
        with self._calls_lock:
            return [ModelCall(c.job, c.step, c.arrived, c.answered, c.status) for c in self._calls]


def chaos_scenario(script: Path = CHAOS_SCRIPT) -> dict[str, Any]:
    scenario = load_scenario()
    scenario.update(yaml.safe_load(script.read_text()))
    return scenario


def start_world() -> tuple[Stack, RecordingAnthropic]:
    """The demo's emulators with the recording model emulator. Vault's scripted hang for the
    tenant's secrets is switched off: here Vault fails only when the fault plan says so."""
    scenario = chaos_scenario()
    anthropic = RecordingAnthropic(scenario).start()
    stack = Stack(
        slack=SlackEmulator(scenario).start(),
        anthropic=anthropic,
        vault=VaultEmulator(scenario).start(),
        kubernetes=KubernetesEmulator(scenario).start(),
        platform=PlatformEmulator(scenario).start(),
        loki=LokiEmulator(scenario).start(),
    )
    stack.vault.timeout_paths = []
    return stack, anthropic
