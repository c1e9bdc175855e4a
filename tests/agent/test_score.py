"""The escalation score: uncertainty, novelty (TF-IDF over past tickets) and intervention
benefit (what humans did on similar past tickets), against the real store."""

from __future__ import annotations

import pytest

from bot.agent.score import ScoreInputs, escalation_score, tfidf_similarities, uncertainty
from bot.model import OperatorAction, Ticket
from bot.store import Store
from policy.document import Escalation


def test_similar_text_scores_higher_than_unrelated_text() -> None:
    sims = tfidf_similarities(
        "checkout pods crashloop after rollout",
        ["checkout pods crashloop since the rollout", "vault token expired for billing", ""],
    )
    assert sims[0] > 0.5 > sims[1] and sims[2] == 0.0


def test_hedging_and_low_confidence_raise_uncertainty() -> None:
    assert uncertainty(0.9, "The DB_URL is missing.") == pytest.approx(0.1)
    assert uncertainty(0.9, "It might be the DB; unclear, possibly the cache.") > 0.35
    assert uncertainty(0.0, "anything") == 1.0


def test_novel_ticket_is_novel_and_a_repeat_is_not(store: Store) -> None:
    store.submit(Ticket(text="checkout pods crashloop after the 14:02 rollout"))
    seen = escalation_score(
        ScoreInputs(0.9, "ok", "checkout pods crashloop after the 14:02 rollout", "new"),
        store,
        Escalation(),
    )
    unseen = escalation_score(
        ScoreInputs(0.9, "ok", "grafana dashboards show no data for billing", "new"),
        store,
        Escalation(),
    )
    assert seen.novelty < 0.1 and unseen.novelty > 0.9
    assert seen.total < unseen.total


def test_humans_changing_similar_outcomes_raises_intervention_benefit(store: Store) -> None:
    text = "payments API returns 502 for tenant acme"
    quiet = escalation_score(ScoreInputs(0.9, "ok", text, "new"), store, Escalation())
    for _ in range(3):
        job, _ = store.submit(Ticket(text=text))
        store.operator(job.id, OperatorAction.CANCEL, by="oncall", reason="the agent was wrong")
    busy = escalation_score(ScoreInputs(0.9, "ok", text, "new"), store, Escalation())
    assert busy.intervention_benefit > quiet.intervention_benefit + 0.3


def test_score_above_threshold_overrides_the_model_verdict() -> None:
    from bot.agent.finish import NoHistory, build_handoff
    from bot.agent.history import History
    from bot.agent.tools import SubmitHandoff
    from policy.document import Policy
    from tests.agent.fakes import make_job

    policy = Policy.model_validate({"escalation": {"threshold": 0.3}})
    handoff = build_handoff(
        job=make_job("never seen before"),
        tenant=None,
        history=History(),
        events=[],
        policy=policy,
        past=NoHistory(),
        submitted=SubmitHandoff(verdict="inconclusive", summary="Maybe fixed.", confidence=0.5),
    )
    assert handoff.verdict == "escalated" and handoff.model_verdict == "inconclusive"
    assert handoff.verdict_reason == "the escalation score overrode it"
    assert handoff.score is not None and handoff.score.total > 0.3


def test_sources_the_job_could_not_read_raise_uncertainty() -> None:
    from bot.agent.score import uncertainty

    assert uncertainty(0.95, "ok") == pytest.approx(0.05)
    assert uncertainty(0.95, "ok", unseen=0.5) == pytest.approx(0.55)
    assert uncertainty(0.95, "ok", unseen=1.0) == 1.0
