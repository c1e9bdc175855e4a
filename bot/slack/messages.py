"""Block Kit for the messages the bot itself owns: the status message with operator buttons,
questions (with approve/deny when the job waits for an approval), short thread notes."""

from __future__ import annotations

from typing import Any

from bot.handoff.render_slack import Message, button, context, escape, section
from bot.handoff.render_text import VERDICT_LABELS
from bot.notify import Progress

# action ids the listeners and the authorisation middleware agree on
OP_ACTIONS = {
    "steadfast_op_pause": "pause",
    "steadfast_op_resume": "resume",
    "steadfast_op_cancel": "cancel",
    "steadfast_op_retry": "retry",
}
APPROVAL_ACTIONS = {"steadfast_approve": True, "steadfast_deny": False}
FEEDBACK_ACTIONS = {"steadfast_feedback_helpful": True, "steadfast_feedback_wrong": False}


def operator_buttons(job_id: str, *, finished: bool = False) -> dict[str, Any]:
    elements = [button("Retry", "steadfast_op_retry", job_id)]
    if not finished:
        elements = [
            button("Pause", "steadfast_op_pause", job_id),
            button("Resume", "steadfast_op_resume", job_id),
            button("Cancel", "steadfast_op_cancel", job_id, "danger"),
            *elements,
        ]
    return {"type": "actions", "block_id": f"ops:{job_id}", "elements": elements}


def progress_line(progress: Progress) -> str:
    parts = [f"step {progress.step}"]
    if progress.layer:
        parts.append(f"layer {escape(progress.layer)}")
    if progress.retries:
        parts.append(f"{progress.retries} retr{'y' if progress.retries == 1 else 'ies'}")
    if progress.degraded:
        parts.append("degraded: " + ", ".join(escape(d) for d in progress.degraded))
    return " · ".join(parts)


def status_message(job_id: str, progress: Progress | None = None) -> Message:
    """The one status message of a job, as first posted and as updated while it runs."""
    head = f":eyes: Investigating — job `{job_id}`"
    lines = [head]
    if progress is not None:
        lines.append(progress_line(progress))
        if progress.text:
            lines.append(f"_{escape(progress.text)}_")
    text = "\n".join(lines)
    return {
        "text": f"Investigating — job {job_id}",
        "blocks": [section(text[:3000]), operator_buttons(job_id)],
    }


def final_status_message(job_id: str, verdict: str) -> Message:
    label = VERDICT_LABELS.get(verdict, verdict)
    return {
        "text": f"Finished — {label} — job {job_id}",
        "blocks": [
            section(f":checkered_flag: Finished — *{label}* — job `{job_id}`"),
            operator_buttons(job_id, finished=True),
        ],
    }


def question_message(job_id: str, question: str, *, user: str | None, approval: bool) -> Message:
    who = f"<@{user}> " if user else ""
    how = (
        "Approve or deny below (operators only)."
        if approval
        else "Reply in this thread to answer; the investigation resumes with your answer."
    )
    blocks = [
        section(f":raising_hand: {who}{escape(question)}"[:3000]),
        context(f"{how} Job `{job_id}`"),
    ]
    if approval:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{job_id}",
                "elements": [
                    button("Approve", "steadfast_approve", job_id, "primary"),
                    button("Deny", "steadfast_deny", job_id, "danger"),
                ],
            }
        )
    return {"text": f"Question from Steadfast: {escape(question)}"[:3000], "blocks": blocks}


def note(text: str) -> Message:
    """A short message in a thread (mrkdwn already escaped by the caller)."""
    return {"text": text, "blocks": [section(text[:3000])]}


def stopped_status_message(job_id: str, headline: str, *, finished: bool) -> Message:
    """The status message of a job that stopped without a handoff (failed, cancelled, paused).
    `headline` is mrkdwn, already escaped by the caller."""
    return {
        "text": f"{headline} — job {job_id}",
        "blocks": [
            section(f"{headline} — job `{job_id}`"[:3000]),
            operator_buttons(job_id, finished=finished),
        ],
    }


def failed_oncall_message(
    job_id: str,
    *,
    error: str,
    gathered: list[str],
    could_not_reach: list[str],
    usergroup: str | None,
    tenant: str | None,
    ticket_link: str | None,
) -> Message:
    """The on-call page for a job that failed without a handoff: why, what it had read, what
    it could not reach, and the operator actions (Retry button, CLI commands)."""
    who = f"<!subteam^{usergroup}>" if usergroup else "On-call"
    intro = f"{who} :x: Steadfast job `{job_id}` failed" + (
        f" for *{escape(tenant)}*" if tenant else ""
    )
    intro += f": {escape(error)}"
    if ticket_link:
        intro += f" (<{ticket_link}|open the ticket thread>)"

    def bullets(items: list[str]) -> str:
        return "\n".join(f"• {escape(i)}" for i in items[:20]) if items else "_none_"

    return {
        "text": f"Steadfast job {job_id} failed: {escape(error)}"[:3000],
        "blocks": [
            section(intro[:3000]),
            section(f"*Read before it failed*\n{bullets(gathered)}"[:3000]),
            section(f"*Could not reach*\n{bullets(could_not_reach)}"[:3000]),
            context(
                f"Retry with the button or `steadfast retry {job_id}`; inspect with "
                f"`steadfast show {job_id}` and `steadfast replay {job_id}`."
            ),
            operator_buttons(job_id, finished=True),
        ],
    }
