"""Turning the model's `submit_handoff` (or a run that had to stop) into the `Handoff`: the
ledger rules, the layer rule and the escalation score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.agent.history import History
from bot.agent.ledger import merge, untried_layers
from bot.agent.score import PastTickets, ScoreInputs, escalation_score
from bot.agent.tools import TOOLS, SubmitHandoff
from bot.handoff.model import Fact, Handoff, Score
from bot.handoff.verify import Evidence
from bot.model import Event, Job
from policy.document import Policy

_VERDICTS = {"resolved": "resolved", "inconclusive": "inconclusive", "escalate": "escalated"}


class NoHistory:
    """Past tickets when no store is at hand: none."""

    def list_jobs(self, *, limit: int = 100) -> list[Job]:
        return []

    def events(
        self, job_id: str, *, after_seq: int = 0, kinds: list[str] | None = None
    ) -> list[Event]:
        return []


def premature_escalation(
    submitted: SubmitHandoff, history: History, policy: Policy, available: Callable[[str], bool]
) -> str | None:
    """The message for the model when an escalation skips a reachable layer, else None."""
    if submitted.verdict != "escalate":
        return None
    missing = untried_layers(history, policy, available)
    if not missing:
        return None
    layers = {layer.name: layer for layer in policy.layers}
    detail = "; ".join(
        f"{name} (tools: {', '.join(t for t in layers[name].tools if t in TOOLS)})"
        for name in missing
    )
    return (
        f"Escalation not accepted yet: you have not checked these reachable layers: {detail}. "
        "Try at least one tool from each, then call submit_handoff again."
    )


def build_handoff(
    *,
    job: Job,
    tenant: str | None,
    history: History,
    events: list[Event],
    policy: Policy,
    past: PastTickets,
    submitted: SubmitHandoff,
    gathered: bool = False,
) -> Handoff:
    """The handoff the system stands behind: facts checked against the job's calls, "Could
    not reach" from its ledger, and a verdict the evidence allows. `gathered`: also list, as
    confirmed, what the job read successfully (a run that stopped before the model wrote its
    own findings)."""
    evidence = Evidence.from_events(events)
    now = history.last_at or datetime.now(UTC)
    confirmed, not_verified = evidence.check(
        [(f.fact, f.evidence) for f in submitted.confirmed],
        now=now,
        drift_seconds=policy.budgets.drift_after_seconds,
    )
    if gathered:
        confirmed += evidence.gathered()
    score = escalation_score(
        ScoreInputs(
            confidence=submitted.confidence,
            summary=submitted.summary,
            ticket=job.ticket.text,
            job_id=job.id,
            unseen=evidence.unseen_share(),
        ),
        past,
        policy.escalation,
    )
    verdict = _VERDICTS[submitted.verdict]
    reason = _refusal(verdict, evidence, confirmed)
    if reason is None and score.total > score.threshold and verdict != "escalated":
        reason = "the escalation score overrode it"
    model_verdict = None
    if reason is not None:
        model_verdict, verdict = verdict, "escalated"
    return Handoff(
        job_id=job.id,
        verdict=verdict,
        model_verdict=model_verdict,
        verdict_reason=reason,
        summary=submitted.summary,
        confirmed=confirmed,
        not_verified=not_verified,
        could_not_reach=merge(evidence.could_not_reach(), submitted.could_not_reach),
        assumptions=merge(history.assumptions, submitted.assumptions),
        recommended_actions=list(submitted.recommended_actions),
        confidence=submitted.confidence,
        score=score,
        tenant=tenant,
        replay=f"steadfast replay {job.id}",
    )


def _refusal(verdict: str, evidence: Evidence, confirmed: list[Fact]) -> str | None:
    """Why the system does not accept the model's verdict, or None."""
    if verdict == "escalated":
        return None
    if evidence.nothing_readable():
        return "no source could be read"
    if verdict == "resolved" and not confirmed:
        return "resolved needs a verified fact and none was"
    return None


def stopped_handoff(
    *,
    job: Job,
    tenant: str | None,
    history: History,
    events: list[Event],
    policy: Policy,
    past: PastTickets,
    why: str,
) -> Handoff:
    """When the run cannot finish (a budget ran out, the model is unavailable): escalate with
    what the events hold, every successful read listed as confirmed with its step."""
    last_text = _last_model_text(history)
    summary = f"Stopped before finishing: {why}."
    if last_text:
        summary += f" Last finding: {last_text}"
    submitted = SubmitHandoff(
        verdict="escalate",
        summary=summary,
        recommended_actions=[
            f"Continue from the trace (`steadfast replay {job.id}`); "
            "the investigation was cut short, not concluded."
        ],
        confidence=0.0,
    )
    return build_handoff(
        job=job,
        tenant=tenant,
        history=history,
        events=events,
        policy=policy,
        past=past,
        submitted=submitted,
        gathered=True,
    )


def score_event(score: Score | None) -> dict[str, Any]:
    return score.model_dump() if score is not None else {}


def _last_model_text(history: History) -> str:
    for turn in reversed(history.turns):
        if turn.response is None:
            continue
        for block in turn.response.data.get("content") or []:
            if block.get("type") == "text" and block.get("text"):
                text = " ".join(str(block["text"]).split())
                return text[:500]
    return ""
