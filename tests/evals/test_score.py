"""The scoring is pure: a handoff, the job's events and the ground truth give the same figures
every time, and each way of doing badly costs its own points and no others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.evals.score import WEIGHTS, reported_dependencies, score
from bot.evals.truth import GroundTruth
from bot.handoff.model import Citation, Fact, Handoff, UnverifiedFact
from bot.model import Event

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
TRUTH = GroundTruth.model_validate(
    {
        "root_cause": {
            "summary": "auth-api's database credential is rejected",
            "phrasings": [r"password authentication failed", r"(stale|rotated|bad) credential"],
        },
        "facts": [r"i-123.*\bERROR\b", r"CrashLoopBackOff", r"password authentication failed"],
        "forbidden": [r"quota (is )?exhausted", r"\bresolved\b"],
        "unreachable": ["vault"],
        "escalate": True,
    }
)
CITE = [Citation(tool_use_id="toolu_1", step=1, tool="k8s_list")]


def events(*usages: tuple[int, int]) -> list[Event]:
    out = [Event("j", 1, T0, "claimed")]
    for i, (tin, tout) in enumerate(usages, start=2):
        out.append(
            Event(
                "j",
                i,
                T0 + timedelta(seconds=i),
                "model_response",
                {"usage": {"input_tokens": tin, "output_tokens": tout}},
            )
        )
    return out


def good_handoff(**changes: object) -> Handoff:
    base: dict[str, object] = {
        "job_id": "j",
        "verdict": "escalated",
        "summary": "auth-api crash-loops: password authentication failed for user auth_api",
        "confirmed": [
            Fact(fact="Instance i-123 is in state ERROR", evidence=CITE),
            Fact(fact="auth-api is in CrashLoopBackOff", evidence=CITE),
        ],
        "could_not_reach": ["vault: timed out"],
    }
    base.update(changes)
    return Handoff.model_validate(base)


def test_a_good_handoff_scores_everything() -> None:
    result = score(good_handoff(), events((1000, 100), (2000, 200)), TRUTH, model="claude-sonnet")
    assert result.total == 100.0
    assert result.usage.steps == 2 and result.usage.tokens == 3300
    assert result.usage.wall_seconds == 3.0
    assert result.cost_usd == pytest.approx((3000 * 3 + 300 * 15) / 1e6)


def test_missing_the_cause_loses_only_the_root_cause_points() -> None:
    result = score(good_handoff(summary="auth-api is unhealthy"), [], TRUTH)
    assert not result.root_cause_found
    assert result.total == 100 - WEIGHTS["root_cause"]


def test_the_cause_in_a_confirmed_fact_counts() -> None:
    facts = [Fact(fact="logs: password authentication failed", evidence=CITE)]
    assert score(good_handoff(summary="see facts", confirmed=facts), [], TRUTH).root_cause_found


def test_uncited_and_untrue_facts_lower_precision() -> None:
    handoff = good_handoff(
        confirmed=[
            Fact(fact="auth-api is in CrashLoopBackOff", evidence=CITE),
            Fact(fact="the database is down", evidence=CITE),  # not true in this world
        ],
        not_verified=[UnverifiedFact(fact="only acme is affected", why="cited nothing")],
    )
    result = score(handoff, [], TRUTH)
    assert (result.claimed, result.true_confirmed) == (3, 1)
    assert result.total == pytest.approx(100 - WEIGHTS["fact_precision"] * 2 / 3)


def test_a_forbidden_claim_loses_the_forbidden_points_even_unverified() -> None:
    handoff = good_handoff(
        not_verified=[UnverifiedFact(fact="acme's quota is exhausted", why="cited nothing")],
        confirmed=[Fact(fact="auth-api is in CrashLoopBackOff", evidence=CITE)],
    )
    result = score(handoff, [], TRUTH)
    assert result.forbidden_claims == [r"quota (is )?exhausted"]
    # the unverified claim also costs precision: 1 of 2 claims is a true confirmed fact
    assert result.total == 100 - WEIGHTS["forbidden"] - WEIGHTS["fact_precision"] / 2


def test_could_not_reach_precision_and_recall() -> None:
    missed = score(good_handoff(could_not_reach=[]), [], TRUTH)
    assert (missed.cnr_precision, missed.cnr_recall) == (1.0, 0.0)
    assert missed.total == 100 - WEIGHTS["could_not_reach"] / 2
    extra = score(good_handoff(could_not_reach=["vault: 503", "the log store (Loki)"]), [], TRUTH)
    assert (extra.cnr_precision, extra.cnr_recall) == (0.5, 1.0)


def test_the_wrong_escalation_decision_loses_its_points() -> None:
    result = score(good_handoff(verdict="inconclusive"), [], TRUTH)
    assert not result.escalation_right
    assert result.total == 100 - WEIGHTS["escalation"]


def test_refused_actions_are_not_unreachable_dependencies() -> None:
    lines = [
        "blocked by policy: kubectl rollout restart (vault says no)",
        "kubernetes: 500",
        "the platform API timed out",
    ]
    assert reported_dependencies(lines) == ["kubernetes", "http:platform"]


def test_a_bad_pattern_in_the_truth_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid regular expression"):
        GroundTruth.model_validate(
            {"root_cause": {"summary": "x", "phrasings": ["("]}, "escalate": False}
        )


def test_unknown_models_have_no_cost_rather_than_a_guess() -> None:
    assert score(good_handoff(), events((10, 10)), TRUTH, model="some-model").cost_usd is None
