"""The one result type every integration call returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from policy.judge import Decision

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    value: T

    ok = True


@dataclass(frozen=True, slots=True)
class Degraded:
    """A dependency could not answer. `reason` is written for a human (and already scrubbed)."""

    dependency: str  # "vault", "kubernetes", "http:<name>", "logs:<name>", "model", "slack"
    reason: str
    retryable: bool = True
    denied: Decision | None = None  # the judge refused: a blocked call, not an outage

    ok = False

    def to_dict(self) -> dict[str, object]:
        return {"dependency": self.dependency, "reason": self.reason, "retryable": self.retryable}


Outcome = Ok[T] | Degraded
