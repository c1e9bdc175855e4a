"""The escalation score: uncertainty, novelty and intervention benefit, weighted by policy.

Novelty and intervention benefit come from past tickets in the store, compared with a small
TF-IDF / cosine model (stdlib only; nothing is fetched from a network).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from bot.handoff.model import Score
from bot.model import Event, Job
from policy.document import Escalation

HEDGES = (
    "might",
    "may ",
    "maybe",
    "possibly",
    "perhaps",
    "unclear",
    "not sure",
    "uncertain",
    "likely",
    "appears",
    "seems",
    "could not confirm",
    "cannot confirm",
    "unknown",
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,}")
# How many similar past tickets inform intervention benefit, and how similar they must be.
NEIGHBOURS = 5
MIN_SIMILARITY = 0.2
PRIOR_BENEFIT = 0.3  # with no similar history, assume humans sometimes help


class PastTickets(Protocol):
    """The part of `Store` the score reads."""

    def list_jobs(self, *, limit: int = 100) -> list[Job]: ...

    def events(
        self, job_id: str, *, after_seq: int = 0, kinds: list[str] | None = None
    ) -> list[Event]: ...


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def tfidf_similarities(query: str, corpus: list[str]) -> list[float]:
    """Cosine similarity of `query` to each document, TF-IDF weighted over corpus + query."""
    docs = [Counter(tokens(d)) for d in corpus]
    q = Counter(tokens(query))
    n = len(docs) + 1
    df: Counter[str] = Counter()
    for doc in [*docs, q]:
        df.update(doc.keys())
    idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}

    def vector(doc: Counter[str]) -> dict[str, float]:
        return {t: c * idf[t] for t, c in doc.items()}

    qv = vector(q)
    qn = math.sqrt(sum(v * v for v in qv.values())) or 1.0
    sims = []
    for doc in docs:
        dv = vector(doc)
        dn = math.sqrt(sum(v * v for v in dv.values())) or 1.0
        sims.append(sum(w * dv.get(t, 0.0) for t, w in qv.items()) / (qn * dn))
    return sims


def uncertainty(confidence: float, summary: str, unseen: float = 0.0) -> float:
    """The model's doubt (1 - confidence, hedging words) plus the share of sources the job
    could not read: a confident model that saw nothing is still uncertain."""
    text = f" {summary.lower()} "
    hedges = sum(text.count(h) for h in HEDGES)
    return min(1.0, max(0.0, 1.0 - confidence) + 0.1 * hedges + max(0.0, unseen))


def humans_changed(events: list[Event]) -> bool:
    """Did a human change this past job's outcome? Operator retries/cancels, or feedback
    saying the handoff was wrong."""
    for event in events:
        if event.kind == "operator_action" and event.data.get("action") in ("retry", "cancel"):
            return True
        if event.kind == "feedback" and (
            event.data.get("changed") or event.data.get("helpful") is False
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    confidence: float
    summary: str
    ticket: str
    job_id: str
    unseen: float = 0.0  # share of the job's source calls that failed or were refused


def escalation_score(inputs: ScoreInputs, past: PastTickets, policy: Escalation) -> Score:
    jobs = [j for j in past.list_jobs(limit=500) if j.id != inputs.job_id and j.ticket.text]
    sims = tfidf_similarities(inputs.ticket, [j.ticket.text for j in jobs]) if jobs else []
    novelty = 1.0 - max(sims, default=0.0)
    ranked = sorted(zip(sims, jobs, strict=True), key=lambda p: p[0], reverse=True)
    neighbours = [(s, j) for s, j in ranked[:NEIGHBOURS] if s >= MIN_SIMILARITY]
    weight = 1.0  # the prior counts as one neighbour of similarity 1
    benefit = PRIOR_BENEFIT
    for sim, job in neighbours:
        changed = humans_changed(past.events(job.id, kinds=["operator_action", "feedback"]))
        benefit += sim * (1.0 if changed else 0.0)
        weight += sim
    parts = {
        "uncertainty": uncertainty(inputs.confidence, inputs.summary, inputs.unseen),
        "novelty": min(1.0, max(0.0, novelty)),
        "intervention_benefit": benefit / weight,
    }
    total_weight = sum(policy.weights.get(k, 0.0) for k in parts) or 1.0
    total = sum(policy.weights.get(k, 0.0) * v for k, v in parts.items()) / total_weight
    return Score(
        total=round(total, 4),
        uncertainty=round(parts["uncertainty"], 4),
        novelty=round(parts["novelty"], 4),
        intervention_benefit=round(parts["intervention_benefit"], 4),
        threshold=policy.threshold,
    )
