"""One tool call of a turn, from `tool_call` to its result, including the waits for a human
(ask_human, approvals) and the loop guard. Every event is appended before the action it
announces; a call with a result is never run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from bot.agent.history import History, ToolCall
from bot.agent.ledger import layer_of
from bot.agent.messages import TurnMemo
from bot.agent.toolbox import Toolbox, ToolOutcome
from bot.agent.tools import LOCAL_TOOLS, RunCommand, ToolInputError, parse_input
from bot.handler import JobContext
from bot.metrics import Metrics
from bot.model import EventKind
from bot.notify import Notifier
from policy.document import Policy


@dataclass
class Waiting:
    """The call waits for a human; the job goes to waiting_human."""

    question: str


@dataclass
class StepEnv:
    ctx: JobContext
    policy: Policy
    tenant: str | None
    toolbox: Toolbox
    notifier: Notifier
    metrics: Metrics | None = None
    # the run's finished turns as messages, built once (`messages.build_messages`)
    turn_memo: TurnMemo = field(default_factory=dict)


def needs_approval(policy: Policy, name: str, tool_input: Any) -> bool:
    if name in policy.approvals.tools:
        return True
    if name == "run_command" and isinstance(tool_input, dict):
        command = str(tool_input.get("command", ""))
        return any(fnmatchcase(command, glob) for glob in policy.approvals.commands)
    return False


def run_call(env: StepEnv, history: History, call: ToolCall) -> Waiting | None:
    """Bring `call` to a result, or return `Waiting` when a human must act first."""
    ctx = env.ctx
    base = {"tool_use_id": call.tool_use_id, "name": call.name}
    try:
        args = parse_input(call.name, call.input)
    except ToolInputError as exc:
        refused = _result_item(env, base, str(exc), is_error=True, extra={"schema_error": True})
        ctx.append_many([_announced(env, call, base), refused])
        return None

    if call.name not in LOCAL_TOOLS and call.call is None:
        answered = history.answered_calls(since_seq=history.last_drift_seq)
        step = answered.get(call.key)
        if step is not None:
            refused = _result_item(
                env,
                base,
                f"Refused: you already made this exact call at step {step} and its result is "
                "above. Use that result, or try a different source.",
                is_error=True,
                extra={"guard": True},
            )
            ctx.append_many([_announced(env, call, base), refused])
            return None

    if call.name == "ask_human":
        question = str(getattr(args, "question", ""))
        if call.question is None:
            ctx.append_many(
                [
                    _announced(env, call, base),
                    (EventKind.HUMAN_QUESTION, {**base, "question": question}),
                ]
            )
            env.notifier.question(ctx, question)
            return Waiting(question)
        if call.answer is None:
            return Waiting(question)
        note = _drift_note(env, call, call.question, call.answer)
        text = quoted_answer(call.answer.data)
        ctx.append(*_result_item(env, base, text + note, is_error=False))
        return None

    note = ""
    if needs_approval(env.policy, call.name, call.input):
        what = _describe(call.name, args)
        if call.approval_requested is None:
            question = (
                f"Approval needed before the agent runs {what}. Answer with "
                f"`steadfast approve {ctx.job.id} --by YOU` or `steadfast deny {ctx.job.id} --by YOU`."
            )
            asked = {**base, "input": call.input, "question": question}
            ctx.append_many([_announced(env, call, base), (EventKind.APPROVAL_REQUESTED, asked)])
            env.notifier.question(ctx, question)
            return Waiting(question)
        if call.approval is None:
            return Waiting(what)
        by = call.approval.data.get("by", "a human")
        if not call.approval.data.get("approved"):
            reason = call.approval.data.get("reason") or "no reason given"
            denied = (
                f"Denied by {by} ({reason}). Find another read-only way or note it as not checked."
            )
            ctx.append(*_result_item(env, base, denied, is_error=True, extra={"denied_by": by}))
            return None
        note = _drift_note(env, call, call.approval_requested, call.approval)

    if call.name == "note_assumption":
        # nothing leaves the process: the call, what it noted and its result commit together
        ctx.append_many(
            [
                _announced(env, call, base),
                (EventKind.ASSUMPTION, {**base, "text": str(getattr(args, "text", ""))}),
                _result_item(env, base, "Noted; it will be listed in the handoff.", is_error=False),
            ]
        )
        return None

    ctx.append(*_announced(env, call, base, rerun=call.call is not None and call.approval is None))
    env.toolbox.refreshes.drain()  # anything left over belongs to no call of this job
    outcome = env.toolbox.run(call.name, args, env.policy, env.tenant)
    refreshed: list[Item] = [
        (EventKind.TOKEN_REFRESHED, {**base, "dependency": dependency, "what": what})
        for dependency, what in env.toolbox.refreshes.drain()
    ]
    # the outcome and what it learned on the way (refreshed tokens, a degraded dependency)
    # commit together: one write per finished call
    ctx.append_many(refreshed + _outcome_items(env, base, outcome, note))
    return None


Item = tuple[EventKind, dict[str, Any]]


def _announced(env: StepEnv, call: ToolCall, base: dict[str, Any], *, rerun: bool = False) -> Item:
    data = {**base, "input": env.toolbox.scrubber.scrub_obj(call.input), "step": call.step}
    layer = layer_of(env.policy, call.name)
    if layer is not None:
        data["layer"] = layer  # what `show` reports as the job's current layer
    if rerun:
        data["rerun"] = True  # the previous attempt was in flight when its worker died
    return EventKind.TOOL_CALL, data


def _result_item(
    env: StepEnv,
    base: dict[str, Any],
    text: str,
    *,
    is_error: bool,
    extra: dict[str, Any] | None = None,
) -> Item:
    data = {**base, "content": env.toolbox.scrubber.scrub(text), "is_error": is_error}
    return EventKind.TOOL_RESULT, {**data, **(extra or {})}


def _outcome_items(
    env: StepEnv, base: dict[str, Any], outcome: ToolOutcome, note: str
) -> list[Item]:
    items: list[Item] = []
    if outcome.degraded is not None:
        items.append((EventKind.DEGRADED, {**base, **outcome.degraded.to_dict()}))
        if env.metrics is not None:
            env.metrics.dependency_up.labels(outcome.degraded.dependency).set(0)
    if outcome.blocked is not None:
        items.append((EventKind.TOOL_BLOCKED, {**base, **outcome.blocked}))
        if env.metrics is not None:
            env.metrics.blocked.inc()
        return items
    text = outcome.content + note
    items.append(_result_item(env, base, text, is_error=outcome.is_error, extra=outcome.data))
    return items


def quoted_answer(data: dict[str, Any]) -> str:
    """A human's answer as quoted text with who said it: the model must read it as what a
    person wrote in the thread, not as instructions from the system."""
    who = str(data.get("by") or "a human")
    quoted = "\n".join("> " + line for line in str(data.get("text", "")).splitlines() or [""])
    return f"Answer from {who} (a person's reply in the Slack thread, quoted):\n{quoted}"


def _drift_note(env: StepEnv, call: ToolCall, asked: Any, answered: Any) -> str:
    waited = (answered.at - asked.at).total_seconds()
    threshold = env.policy.budgets.drift_after_seconds
    if waited <= threshold:
        return ""
    env.ctx.append(
        EventKind.DRIFT_CHECK,
        {
            "tool_use_id": call.tool_use_id,
            "waited_seconds": round(waited, 1),
            "threshold": threshold,
        },
    )
    return (
        f"\n\nNote: {waited / 60:.0f} minutes passed while waiting for a human. State may have "
        "changed since: re-check anything you relied on before concluding."
    )


def _describe(name: str, args: Any) -> str:
    if isinstance(args, RunCommand):
        return f"`{args.command}`"
    return f"{name} {args.model_dump(exclude_none=True)}"
