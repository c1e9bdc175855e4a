"""The fault plan: drawn up front from a seeded RNG, so a seed always gives the same shape of
run (which faults, in which order, at which offsets), then applied on schedule."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.demo.stack import Stack
from chaos_lib.workers import WorkerPool

# Dependency faults as (action, weight): the ones the design promises to survive. Count-based
# faults hit the next N matching requests and clear; outages (`down`, a 500 for every request, a
# long 529) last a drawn number of seconds. Kills are a stream of their own (`kill_gap`).
ACTIONS: tuple[tuple[str, float], ...] = (
    ("vault_down", 1.5),
    ("vault_timeout", 1.0),
    ("kubernetes_500", 1.5),
    ("model_429", 1.0),
    ("model_529", 1.0),
    ("model_outage", 0.3),
    ("slack_429", 1.0),
)
OUTAGE_SECONDS: dict[str, tuple[float, float]] = {
    "vault_down": (2.5, 5.0),
    "kubernetes_500": (2.0, 4.0),
    "model_outage": (7.0, 9.0),  # longer than the worker's whole retry schedule
}


@dataclass(frozen=True, slots=True)
class Planned:
    at: float  # seconds after the start of the budget
    action: str
    slot: int = 0  # the worker slot, for kill_worker
    duration: float = 0.0  # outages: cleared this many seconds later


@dataclass
class FaultPlan:
    steps: list[Planned]
    applied: Counter[str] = field(default_factory=Counter)
    _ends: list[tuple[float, Any]] = field(default_factory=list)  # (clear at, emulator)

    @classmethod
    def draw(
        cls,
        seed: int,
        budget: float,
        workers: int,
        *,
        gap: tuple[float, float] = (0.8, 2.5),
        kill_gap: tuple[float, float] = (2.0, 4.5),
    ) -> FaultPlan:
        rng = random.Random(seed)
        names = [a for a, _ in ACTIONS]
        weights = [w for _, w in ACTIONS]
        times = _times(rng, budget, gap)
        # every kind of fault at least once when the budget has room, the rest drawn by weight
        actions = names[: len(times)] + rng.choices(
            names, weights, k=max(0, len(times) - len(names))
        )
        rng.shuffle(actions)
        steps: list[Planned] = []
        for when, action in zip(times, actions, strict=True):
            low, high = OUTAGE_SECONDS.get(action, (0.0, 0.0))
            steps.append(Planned(when, action, duration=round(rng.uniform(low, high), 2)))
        for when in _times(rng, budget, kill_gap):
            steps.append(Planned(when, "kill_worker", slot=rng.randrange(workers)))
        return cls(sorted(steps, key=lambda p: p.at))

    def due(self, elapsed: float, done: int) -> list[Planned]:
        """The planned steps not applied yet whose time has come (`done` = applied so far)."""
        return [p for p in self.steps[done:] if p.at <= elapsed]

    def apply(self, step: Planned, stack: Stack, pool: WorkerPool) -> None:
        if step.action == "kill_worker":
            pool.kill_and_restart(step.slot)
        else:
            emulator, mode, options = _FAULTS[step.action](stack)
            emulator.faults.set(mode, **options)
            if step.duration:
                self._ends.append((step.at + step.duration, emulator))
        self.applied[step.action] += 1

    def end_outages(self, elapsed: float) -> None:
        """Clear outages whose time is up (a newer fault on the same emulator goes too: an
        emulator holds one fault at a time)."""
        for end in [e for e in self._ends if e[0] <= elapsed]:
            end[1].faults.clear()
            self._ends.remove(end)

    @property
    def faults(self) -> int:
        """Planned dependency faults applied (kills and drain re-arms are counted apart)."""
        return sum(n for a, n in self.applied.items() if a in _FAULTS)


def _times(rng: random.Random, budget: float, gap: tuple[float, float]) -> list[float]:
    times: list[float] = []
    at = rng.uniform(*gap)
    while at < budget:
        times.append(round(at, 2))
        at += rng.uniform(*gap)
    return times


def rearm_unfired(stack: Stack, plan: FaultPlan) -> list[str]:
    """A fault fails a request only if one arrives while it is set. On a busy machine the jobs
    move slowly and a dependency's faults can all come and go before any job calls it: then
    arm one count-based fault for the drain, so the next request there fails and every planned
    kind of dependency failure is really exercised. Returns the dependencies re-armed."""
    rearmed = []
    for name, planned in _BY_DEPENDENCY.items():
        emulator = getattr(stack, name)
        if emulator.faults.injected or not any(plan.applied[a] for a in planned):
            continue
        _emulator, mode, options = _FAULTS[_REARM[name]](stack)
        emulator.faults.set(mode, **{**options, "count": 1})
        plan.applied[f"rearmed_{name}"] += 1
        rearmed.append(name)
    return rearmed


def clear_all(stack: Stack) -> None:
    for emulator in (stack.slack, stack.anthropic, stack.vault, stack.kubernetes):
        emulator.faults.clear()


def injected(stack: Stack) -> dict[str, int]:
    """Requests each emulator actually failed on purpose."""
    return {
        e.name: e.faults.injected
        for e in (stack.vault, stack.kubernetes, stack.anthropic, stack.slack)
    }


_FAULTS: dict[str, Any] = {
    # connection closed without an answer, for as long as the outage lasts
    "vault_down": lambda s: (s.vault, "down", {}),
    # Vault hangs longer than the worker's 1 s Vault timeout
    "vault_timeout": lambda s: (s.vault, "timeout", {"count": 2, "delay_ms": 2500}),
    "kubernetes_500": lambda s: (s.kubernetes, "500", {}),
    "model_429": lambda s: (s.anthropic, "429", {"count": 2, "retry_after": 0.3}),
    "model_529": lambda s: (s.anthropic, "529", {"count": 2}),
    "model_outage": lambda s: (s.anthropic, "529", {}),
    # only the Web API calls that post and edit: the bot's Socket Mode connection stays up
    "slack_429": lambda s: (
        s.slack,
        "429",
        {"count": 3, "retry_after": 1, "path": r"^/api/chat\."},
    ),
}

# Which planned actions fail which dependency, and the count-based one to re-arm it with.
_BY_DEPENDENCY: dict[str, tuple[str, ...]] = {
    "vault": ("vault_down", "vault_timeout"),
    "kubernetes": ("kubernetes_500",),
    "anthropic": ("model_429", "model_529", "model_outage"),
    "slack": ("slack_429",),
}
_REARM = {
    "vault": "vault_timeout",
    "kubernetes": "kubernetes_500",
    "anthropic": "model_429",
    "slack": "slack_429",
}
