"""Turning the model's `submit_handoff` (or a run that had to stop) into the `Handoff`: the
ledger rules, the layer rule and the escalation score."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.agent.history import History
from bot.agent.ledger import (
    failed_dependencies,
    merge,
    unreachable_from_events,
    untried_layers,
    unverified_confirmations,
)
from bot.agent.score import PastTickets, ScoreInputs, escalation_score
from bot.agent.tools import TOOLS, SubmitHandoff
from bot.handoff.model import Handoff, Score
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
    policy: Policy,
    past: PastTickets,
    submitted: SubmitHandoff,
) -> Handoff:
    score = escalation_score(
        ScoreInputs(
            confidence=submitted.confidence,
            summary=submitted.summary,
            ticket=job.ticket.text,
            job_id=job.id,
        ),
        past,
        policy.escalation,
    )
    verdict = _VERDICTS[submitted.verdict]
    model_verdict = None
    if score.total > score.threshold and verdict != "escalated":
        model_verdict, verdict = verdict, "escalated"
    confirmed, unverified = unverified_confirmations(
        list(submitted.confirmed), failed_dependencies(history)
    )
    return Handoff(
        job_id=job.id,
        verdict=verdict,
        model_verdict=model_verdict,
        summary=submitted.summary,
        confirmed=confirmed,
        could_not_reach=merge(unreachable_from_events(history), submitted.could_not_reach),
        assumptions=merge(history.assumptions, submitted.assumptions) + unverified,
        recommended_actions=list(submitted.recommended_actions),
        confidence=submitted.confidence,
        score=score,
        tenant=tenant,
        replay=f"steadfast replay {job.id}",
    )


def stopped_handoff(
    *,
    job: Job,
    tenant: str | None,
    history: History,
    policy: Policy,
    past: PastTickets,
    why: str,
) -> Handoff:
    """When the run cannot finish (a budget ran out, the model is unavailable): escalate with
    what the events hold."""
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
    handoff = build_handoff(
        job=job, tenant=tenant, history=history, policy=policy, past=past, submitted=submitted
    )
    return handoff


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
