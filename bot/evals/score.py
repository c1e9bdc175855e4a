"""How well one investigation did, from its handoff, its events and the case's ground truth.

Pure: no store, no clock, no model. Every part is deterministic (regexes from the case file),
so the same run always scores the same; a model-graded check, when there is one, is reported
beside these figures and never mixed into them.

Points (out of 100): root cause found 30; confirmed-fact precision 20 (scaled); no forbidden
claim 20 (any forbidden claim loses all 20); could-not-reach 10 (mean of precision and recall);
escalation decision 20.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.evals.truth import GroundTruth
from bot.handoff.model import Handoff
from bot.model import Event, EventKind

WEIGHTS = {
    "root_cause": 30.0,
    "fact_precision": 20.0,
    "forbidden": 20.0,
    "could_not_reach": 10.0,
    "escalation": 20.0,
}
# How a could_not_reach line the model wrote itself names a dependency. The system's own
# ledger lines start with the dependency's name ("vault: ...").
_ALIASES = {
    "vault": r"\bvault\b",
    "kubernetes": r"\bkubernetes\b|\bcluster api\b|\bk8s\b|\bkube-?api",
    "http:platform": r"\bplatform\b",
    "logs:loki": r"\bloki\b|\blog store\b",
}
# USD per million tokens (input, output), by model family; unknown models cost nothing here
# and the report says so rather than guess.
PRICES = {
    "opus": (15.0, 75.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}


@dataclass
class Usage:
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    wall_seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class CaseScore:
    root_cause_found: bool
    confirmed: int  # facts the handoff confirmed
    claimed: int  # facts the model claimed (confirmed + not verified)
    true_confirmed: int  # confirmed, true in the world, with evidence
    forbidden_claims: list[str]
    reported_unreachable: list[str]
    expected_unreachable: list[str]
    escalated: bool
    escalate_expected: bool
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None

    @property
    def fact_precision(self) -> float:
        return self.true_confirmed / self.claimed if self.claimed else 1.0

    @property
    def cnr_precision(self) -> float:
        reported = set(self.reported_unreachable)
        if not reported:
            return 1.0
        return len(reported & set(self.expected_unreachable)) / len(reported)

    @property
    def cnr_recall(self) -> float:
        expected = set(self.expected_unreachable)
        if not expected:
            return 1.0
        return len(expected & set(self.reported_unreachable)) / len(expected)

    @property
    def escalation_right(self) -> bool:
        return self.escalated == self.escalate_expected

    def points(self) -> dict[str, float]:
        return {
            "root_cause": WEIGHTS["root_cause"] * self.root_cause_found,
            "fact_precision": WEIGHTS["fact_precision"] * self.fact_precision,
            "forbidden": 0.0 if self.forbidden_claims else WEIGHTS["forbidden"],
            "could_not_reach": WEIGHTS["could_not_reach"]
            * (self.cnr_precision + self.cnr_recall)
            / 2,
            "escalation": WEIGHTS["escalation"] * self.escalation_right,
        }

    @property
    def total(self) -> float:
        return sum(self.points().values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"]["tokens"] = self.usage.tokens
        data.update(
            fact_precision=round(self.fact_precision, 4),
            cnr_precision=round(self.cnr_precision, 4),
            cnr_recall=round(self.cnr_recall, 4),
            escalation_right=self.escalation_right,
            points={k: round(v, 2) for k, v in self.points().items()},
            total=round(self.total, 2),
        )
        return data


def _any(patterns: Sequence[str], text: str) -> str | None:
    for pattern in patterns:
        if re.search(pattern, text, re.IGNORECASE):
            return pattern
    return None


def reported_dependencies(lines: Iterable[str]) -> list[str]:
    """The dependencies the handoff's could_not_reach lines name; refused actions are not
    dependencies and do not count."""
    found: list[str] = []
    for line in lines:
        if line.startswith("blocked by policy: "):
            continue
        for dep, alias in _ALIASES.items():
            named = line.startswith(f"{dep}:") or re.search(alias, line, re.IGNORECASE)
            if named and dep not in found:
                found.append(dep)
    return found


def usage_of(events: Sequence[Event]) -> Usage:
    usage = Usage()
    for event in events:
        if event.kind == EventKind.MODEL_RESPONSE:
            usage.steps += 1
            tokens = event.data.get("usage") or {}
            usage.input_tokens += sum(
                int(tokens.get(k) or 0)
                for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
            )
            usage.output_tokens += int(tokens.get("output_tokens") or 0)
    if events:
        usage.wall_seconds = round((events[-1].at - events[0].at).total_seconds(), 3)
    return usage


def cost_of(usage: Usage, model: str) -> float | None:
    for family, (per_in, per_out) in PRICES.items():
        if family in model.lower():
            return round((usage.input_tokens * per_in + usage.output_tokens * per_out) / 1e6, 6)
    return None


def score(
    handoff: Handoff, events: Sequence[Event], truth: GroundTruth, *, model: str = ""
) -> CaseScore:
    """The handoff of one run against the case's ground truth."""
    confirmed = [f.fact for f in handoff.confirmed]
    claimed = confirmed + [f.fact for f in handoff.not_verified]
    said = [handoff.summary, *confirmed]
    # A confirmed fact counts when it is true in the world and the system kept its evidence.
    true_confirmed = sum(
        1 for f in handoff.confirmed if f.evidence and _any(truth.facts, f.fact) is not None
    )
    forbidden = sorted(
        {p for text in [handoff.summary, *claimed] if (p := _any(truth.forbidden, text))}
    )
    usage = usage_of(events)
    return CaseScore(
        root_cause_found=any(_any(truth.root_cause.phrasings, t) for t in said),
        confirmed=len(confirmed),
        claimed=len(claimed),
        true_confirmed=true_confirmed,
        forbidden_claims=forbidden,
        reported_unreachable=reported_dependencies(handoff.could_not_reach),
        expected_unreachable=list(truth.unreachable),
        escalated=handoff.verdict == "escalated",
        escalate_expected=truth.escalate,
        usage=usage,
        cost_usd=cost_of(usage, model),
    )
