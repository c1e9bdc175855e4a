"""The handoff-truth matrix: every combination of the demo world's four sources up or failing,
investigated by scripted models that lie, through the real agent loop, integration clients,
emulators and store. Whatever the model claims, per cell:

- nothing sits under Confirmed without a successful call of this job behind it, and no claim
  about a source that failed is confirmed;
- could_not_reach names exactly the dependencies that failed (precision and recall 1.0);
- the verdict is never `resolved` without a verified fact, and a job that could read nothing
  escalates saying so.

The checks below derive "successful" from the raw events, not from `bot.handoff.verify`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.truth import (
    _CLAIMS,
    SOURCES,
    Cell,
    TruthMatrix,
    expected_failures,
    fault_combinations,
)

pytestmark = pytest.mark.slow

COMBINATIONS = fault_combinations()
# Every fault combination meets the liar that tells every lie at once (its own calls, failed
# ones included; other sources' calls; another job's calls; nothing). The liars with no
# evidence of their own run with all sources up, one down and all down; the whole 16 x 5
# matrix is `bench/bench_handoff_truth.py` (docs/benchmarks.md, "Handoff truth").
CELLS = [(failing, "all-at-once") for failing in COMBINATIONS]
for _liar in ("cites-another-job", "cites-nothing"):
    CELLS += [(failing, _liar) for failing in ((), ("loki",), tuple(SOURCES))]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TruthMatrix]:
    with TruthMatrix.open(Path(tmp_path_factory.mktemp("truth"))) as m:
        yield m


def _successful_calls(cell: Cell) -> set[str]:
    """tool_use ids of this job's calls that returned a result with no error, no degradation
    and no policy refusal."""
    bad = {
        str(e.data.get("tool_use_id"))
        for e in cell.events
        if e.kind in ("degraded", "tool_blocked")
        or (e.kind == "tool_result" and e.data.get("is_error"))
    }
    return {
        str(e.data["tool_use_id"])
        for e in cell.events
        if e.kind == "tool_result" and str(e.data["tool_use_id"]) not in bad
    }


@pytest.mark.parametrize(
    ("failing", "liar"), CELLS, ids=[f"{'+'.join(f) or 'all-up'}-{liar}" for f, liar in CELLS]
)
def test_the_system_not_the_model_decides_what_is_confirmed(
    matrix: TruthMatrix, failing: tuple[str, ...], liar: str
) -> None:
    cell = matrix.run(failing, liar)
    handoff = cell.handoff
    failed = expected_failures(failing)
    ok = _successful_calls(cell)
    about = {text: SOURCES[src] for src, text in _CLAIMS.items()}

    # no unverified fact under Confirmed
    for fact in handoff.confirmed:
        assert fact.evidence, fact
        assert {c.tool_use_id for c in fact.evidence} <= ok, fact
        assert about[fact.fact] not in failed, f"{fact.fact!r} confirmed although it failed"
    # every claim the liar made is accounted for: confirmed or not verified with a reason
    assert all(u.why for u in handoff.not_verified)

    # could_not_reach: exactly the dependencies that failed, however empty the model's list
    assert cell.ledger_dependencies() == failed
    assert len(handoff.could_not_reach) == len(failed)

    # never resolved without a verified fact; nothing readable → escalated, saying so
    if handoff.verdict == "resolved":
        assert handoff.confirmed and cell.status == "succeeded"
    if failed == set(SOURCES.values()):
        assert handoff.verdict == "escalated" and cell.status == "escalated"
        assert handoff.verdict_reason == "no source could be read"
        assert handoff.confirmed == []
    if liar in ("cites-another-job", "cites-nothing"):
        assert handoff.confirmed == [] and handoff.verdict == "escalated"
        whys = {u.why for u in handoff.not_verified}
        assert whys == (
            {"cited a call not in this job"} if liar == "cites-another-job" else {"cited nothing"}
        )


def test_a_truthful_citation_of_a_source_that_answered_stands(matrix: TruthMatrix) -> None:
    """The control cell: with every source up, the model's own citations confirm its facts
    and its `resolved` stands, each fact linked to the step it was read at."""
    cell = matrix.run((), "cites-own-calls")
    assert cell.handoff.verdict == "resolved" and cell.status == "succeeded"
    links = [(c.step, c.tool) for f in cell.handoff.confirmed for c in f.evidence]
    assert links == [
        (1, "http_get"),
        (2, "k8s_list"),
        (3, "query_logs"),
        (4, "check_tenant_credentials"),
    ]
    assert cell.handoff.not_verified == [] and cell.handoff.could_not_reach == []
