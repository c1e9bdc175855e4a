"""The handoff as plain text, for the terminal (`steadfast show`, `steadfast demo`) and logs."""

from __future__ import annotations

import textwrap

from bot.handoff.model import Handoff

VERDICT_LABELS = {
    "resolved": "Resolved",
    "inconclusive": "Inconclusive",
    "escalated": "Escalated to on-call",
}

SECTIONS = (
    ("Confirmed", "confirmed"),
    ("Not verified", "not_verified"),
    ("Could not reach", "could_not_reach"),
    ("Assumptions logged", "assumptions"),
    ("Recommended next actions", "recommended_actions"),
)


def score_line(handoff: Handoff) -> str | None:
    s = handoff.score
    if s is None:
        return None
    return (
        f"Escalation score {s.total:.2f} (threshold {s.threshold:.2f}): "
        f"uncertainty {s.uncertainty:.2f}, novelty {s.novelty:.2f}, "
        f"intervention benefit {s.intervention_benefit:.2f}"
    )


def overridden_by(handoff: Handoff) -> str:
    """Why the verdict is not the model's."""
    return handoff.verdict_reason or "the escalation score overrode it"


def render_text(handoff: Handoff, *, width: int = 100) -> str:
    verdict = VERDICT_LABELS.get(handoff.verdict, handoff.verdict)
    lines = [f"== {verdict} — job {handoff.job_id} =="]
    if handoff.model_verdict and handoff.model_verdict != handoff.verdict:
        lines.append(f"(the model said {handoff.model_verdict}; {overridden_by(handoff)})")
    lines += ["", *(textwrap.wrap(handoff.summary, width) or [""])]
    for title, attr in SECTIONS:
        items = handoff.lines(attr)
        lines += ["", f"{title}:"]
        if not items:
            lines.append("  (none)")
        for item in items:
            wrapped = textwrap.wrap(item, width - 4) or [""]
            lines.append(f"  - {wrapped[0]}")
            lines += [f"    {rest}" for rest in wrapped[1:]]
    score = score_line(handoff)
    if score:
        lines += ["", score]
    lines += ["", f"Replay: {handoff.replay_command()}"]
    if handoff.cost_usd is not None:
        lines.append(f"Cost: ${handoff.cost_usd:.4f}")
    if handoff.model_fallback:
        lines.append(f"Model fallback: {handoff.model_fallback}")
    return "\n".join(lines)
