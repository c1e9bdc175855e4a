"""The handoff record: produced by the agent loop, rendered for Slack and the terminal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


def bare_facts(value: Any) -> Any:
    """A bare string where a fact is expected becomes a fact that cites nothing (accepted,
    then shown as not verified by the system)."""
    if isinstance(value, list):
        return [{"fact": v} if isinstance(v, str) else v for v in value]
    return value


class Score(BaseModel):
    total: float
    uncertainty: float
    novelty: float
    intervention_benefit: float
    threshold: float


class Citation(BaseModel):
    """One tool call a confirmed fact was read from."""

    tool_use_id: str
    step: int
    tool: str

    def label(self) -> str:
        return f"step {self.step}, {self.tool}"


class Fact(BaseModel):
    """A confirmed fact and the successful calls of this job that support it."""

    fact: str
    evidence: list[Citation] = Field(default_factory=list)

    def line(self) -> str:
        links = "; ".join(c.label() for c in self.evidence)
        return f"{self.fact} · {links}" if links else self.fact


class UnverifiedFact(BaseModel):
    """A fact the model claimed that no valid citation supports, and why."""

    fact: str
    why: str
    evidence: list[str] = Field(default_factory=list)  # the tool_use ids it cited

    def line(self) -> str:
        return f"{self.fact} ({self.why})"


class Handoff(BaseModel):
    job_id: str
    verdict: Literal["resolved", "inconclusive", "escalated"]
    model_verdict: str | None = None  # what the model said, when the system overrode it
    verdict_reason: str | None = None  # why the system overrode it
    summary: str
    confirmed: list[Fact] = Field(default_factory=list)
    not_verified: list[UnverifiedFact] = Field(default_factory=list)
    could_not_reach: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    recommended_actions: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    score: Score | None = None
    tenant: str | None = None
    replay: str = ""  # the command that replays the trace
    cost_usd: float | None = None  # the model calls' cost up to the handoff (bot.cost)
    # set by the system from `model_fallback` events: which provider answered instead, and why
    model_fallback: str | None = None

    @field_validator("confirmed", mode="before")
    @classmethod
    def _plain_lines(cls, value: Any) -> Any:
        """Handoffs recorded before facts carried evidence hold plain lines."""
        return bare_facts(value)

    def replay_command(self) -> str:
        return self.replay or f"steadfast replay {self.job_id}"

    def lines(self, section: str) -> list[str]:
        """A section's items as one line each, the way every renderer shows them."""
        items: list[Any] = getattr(self, section)
        return [item if isinstance(item, str) else item.line() for item in items]
