"""A case's ground truth, as its file states it (the `truth:` section of an eval case)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.rules import check_regexes

# The dependency names the job's ledger uses (`degraded` events, could_not_reach lines).
Dependency = Literal["vault", "kubernetes", "http:platform", "logs:loki"]


class RootCause(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, description="the cause, in words, for the report")
    phrasings: list[str] = Field(
        min_length=1,
        description="regexes (case-insensitive); any match in the summary or a "
        "confirmed fact counts as found",
    )

    _valid = field_validator("phrasings")(check_regexes)


class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root_cause: RootCause
    facts: list[str] = Field(
        default_factory=list,
        description="regexes for what is true in the world: a confirmed fact must match one",
    )
    forbidden: list[str] = Field(
        default_factory=list, description="regexes for claims that must not be made"
    )
    unreachable: list[Dependency] = Field(
        default_factory=list, description="dependencies a good run cannot read"
    )
    escalate: bool = Field(description="whether on-call should be paged")

    _valid_facts = field_validator("facts", "forbidden")(check_regexes)
