"""The handoff (and the other messages a job posts) as Block Kit.

Slack refuses a message with more than 50 blocks or a section whose text is over 3,000
characters, so long handoffs are split across several messages; every message carries a
plain `text` fallback (notifications, screen readers, clients without Block Kit).
"""

from __future__ import annotations

from typing import Any

from bot.handoff.model import Handoff
from bot.handoff.render_text import SECTIONS, VERDICT_LABELS, overridden_by, score_line

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FALLBACK = 3000
MAX_HEADER = 150

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": str, "blocks": [Block, ...]}

VERDICT_EMOJI = {"resolved": ":white_check_mark:", "inconclusive": ":grey_question:"}
VERDICT_EMOJI["escalated"] = ":rotating_light:"


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters; user and model text must not
    be able to forge mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chunks(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split on line breaks where possible, hard-split lines that are longer than `limit`."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current or not out:
        out.append(current)
    return out


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def sections(text: str) -> list[Block]:
    return [section(chunk) for chunk in _chunks(text) if chunk.strip()]


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, MAX_SECTION)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def paginate(
    body: list[Block], tail: list[Block], fallback: str, *, max_blocks: int = MAX_BLOCKS
) -> list[Message]:
    """Pack `body` into messages of at most `max_blocks`; `tail` (footer, buttons) ends the
    last one. Continuation messages say which part they are."""
    room = max_blocks - 1  # one block for the "part i/n" context on split messages
    pages: list[list[Block]] = []
    for block in body:
        if not pages or len(pages[-1]) >= room:
            pages.append([])
        pages[-1].append(block)
    if not pages:
        pages.append([])
    if len(pages[-1]) + len(tail) > room:
        pages.append([])
    pages[-1].extend(tail)
    total = len(pages)
    messages: list[Message] = []
    for i, blocks in enumerate(pages, start=1):
        if total > 1:
            blocks = [*blocks, context(f"part {i}/{total}")]
        text = fallback if i == 1 else f"{fallback} (part {i}/{total})"
        messages.append({"text": _clip(text, MAX_FALLBACK), "blocks": blocks})
    return messages


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {escape(item)}" for item in items) if items else "_none_"


def handoff_blocks(handoff: Handoff) -> list[Block]:
    verdict = VERDICT_LABELS.get(handoff.verdict, handoff.verdict)
    emoji = VERDICT_EMOJI.get(handoff.verdict, "")
    blocks: list[Block] = [header(f"{emoji} {verdict}".strip())]
    if handoff.model_verdict and handoff.model_verdict != handoff.verdict:
        blocks.append(
            context(
                f"The model said _{escape(handoff.model_verdict)}_; "
                f"{escape(overridden_by(handoff))}."
            )
        )
    blocks += sections(escape(handoff.summary) or "_no summary_")
    for title, attr in SECTIONS:
        blocks += sections(f"*{title}*\n{_bullets(handoff.lines(attr))}")
    score = score_line(handoff)
    if score:
        blocks.append(context(score))
    if handoff.model_fallback:
        blocks.append(context(f":twisted_rightwards_arrows: {escape(handoff.model_fallback)}"))
    return blocks


def trace_link_text(url: str) -> str:
    """The footer's console link (docs/console.md), ready to append to its context line."""
    return f" · <{url}|Open the trace>"


def handoff_footer(
    handoff: Handoff, *, feedback: bool = True, trace_link: str | None = None
) -> list[Block]:
    """`trace_link`: the console URL of the job's trace page (or the outbox placeholder the
    sender fills in), shown as "Open the trace"."""
    tail: list[Block] = [
        context(
            f"Job `{handoff.job_id}` · replay the trace: `{handoff.replay_command()}`"
            + (f" · cost ${handoff.cost_usd:.4f}" if handoff.cost_usd is not None else "")
            + (trace_link_text(trace_link) if trace_link else "")
        )
    ]
    if feedback:
        tail.append(
            {
                "type": "actions",
                "block_id": f"feedback:{handoff.job_id}",
                "elements": [
                    button("Helpful", "steadfast_feedback_helpful", handoff.job_id, "primary"),
                    button("Wrong", "steadfast_feedback_wrong", handoff.job_id, "danger"),
                ],
            }
        )
    return tail


def fallback_text(handoff: Handoff) -> str:
    verdict = VERDICT_LABELS.get(handoff.verdict, handoff.verdict)
    return f"{verdict}: {escape(handoff.summary)}"


def render_handoff(
    handoff: Handoff, *, feedback: bool = True, trace_link: str | None = None
) -> list[Message]:
    """The handoff for the ticket thread: one message, or several when over the limits."""
    return paginate(
        handoff_blocks(handoff),
        handoff_footer(handoff, feedback=feedback, trace_link=trace_link),
        fallback_text(handoff),
    )


def render_escalation(
    handoff: Handoff,
    *,
    usergroup: str | None,
    ticket_link: str | None,
    tenant: str | None,
    trace_link: str | None = None,
) -> list[Message]:
    """The opening of the on-call thread: who is paged, where the ticket is, the handoff.
    `ticket_link` is a permalink, a placeholder the sender fills in, or None for a ticket
    that did not come from Slack."""
    who = f"<!subteam^{usergroup}>" if usergroup else "On-call"
    intro = f"{who} Steadfast escalated a ticket" + (f" for *{escape(tenant)}*" if tenant else "")
    if ticket_link:
        intro += f": <{ticket_link}|open the ticket thread>"
    else:
        intro += f" (job `{handoff.job_id}`, submitted outside Slack)"
    return paginate(
        [section(intro), *handoff_blocks(handoff)],
        handoff_footer(handoff, feedback=False, trace_link=trace_link),
        f"Escalated ticket: {escape(handoff.summary)}",
    )
