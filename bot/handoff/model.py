"""The handoff record: produced by the agent loop, rendered for Slack and the terminal."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Score(BaseModel):
    total: float
    uncertainty: float
    novelty: float
    intervention_benefit: float
    threshold: float


class Handoff(BaseModel):
    job_id: str
    verdict: Literal["resolved", "inconclusive", "escalated"]
    model_verdict: str | None = None  # what the model said, when the score overrode it
    summary: str
    confirmed: list[str] = Field(default_factory=list)
    could_not_reach: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    recommended_actions: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    score: Score | None = None
    tenant: str | None = None
    replay: str = ""  # the command that replays the trace

    def replay_command(self) -> str:
        return self.replay or f"steadfast replay {self.job_id}"
