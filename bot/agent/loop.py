"""The agent loop: a `JobHandler` that investigates a ticket with Claude.

The state (`History`) is rebuilt from the job's events once, when the run starts (that is where a
resumed job proves it can continue), and then follows each event the run appends
(`live.LiveContext`). Each iteration takes exactly one kind of action: finish a turn's tool
calls, or ask the model for the next turn. Events are appended before the action they announce,
so a worker killed at any point leaves a log from which the next worker continues without
repeating a recorded model response or tool result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from bot.agent.budget import compaction, exhausted
from bot.agent.errors import (
    AgentCrashed,
    ContextTooLarge,
    ModelAuthFailed,
    ModelError,
    ModelRetryable,
)
from bot.agent.finish import NoHistory, build_handoff, premature_escalation, stopped_handoff
from bot.agent.history import History, ToolCall, Turn
from bot.agent.ledger import layer_of
from bot.agent.live import LiveContext
from bot.agent.messages import build_messages, retry_text
from bot.agent.model import ModelClient, ModelRequest, ModelRoute
from bot.agent.retry import RetryNotice, RetryPolicy, call_with_retries
from bot.agent.score import PastTickets
from bot.agent.spend import OverBudget, SpendSource, over_daily_budget
from bot.agent.steps import StepEnv, Waiting, run_call
from bot.agent.toolbox import Toolbox
from bot.agent.tools import SubmitHandoff, ToolInputError, parse_input, tool_definitions
from bot.agent.versions import RequestStamp
from bot.cost import PriceTable
from bot.errors import LeaseLost, StopRequested
from bot.handler import HandlerResult, JobContext
from bot.handoff.model import Handoff
from bot.metrics import Metrics
from bot.model import EventKind, JobStatus
from bot.notify import Notifier, Progress
from bot.timeline import fallback_line
from bot.tracing import Tracing, genai
from bot.tracing.setup import set_attributes
from bot.tracing.steps import StepSpans
from bot.waits import duration
from core.scrubber import Scrubber
from policy.document import Policy
from policy.source import PolicySource

_RETRY_TEXT = {
    "rate_limited": "model API is rate-limiting",
    "overloaded": "model API is overloaded",
    "server_error": "model API is failing",
    "unreachable": "model API is unreachable",
}


@dataclass(frozen=True, slots=True)
class AgentConfig:
    model: str = "claude-sonnet-5-5"  # as the provider names it
    provider: str = "anthropic"
    max_tokens: int = 4096
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            attempts=6, base_seconds=1.0, max_seconds=60.0, max_retry_after=60.0
        )
    )
    context_tokens: int = 150_000
    prices: PriceTable = field(default_factory=PriceTable)


class AgentHandler:
    """`bot.handler.JobHandler` for the agent. Thread-safe: one instance serves every job of
    a worker; per-job state is rebuilt from the events when a run starts and lives in that
    run's frame, never on the instance."""

    def __init__(
        self,
        config: AgentConfig,
        model: ModelClient,
        toolbox: Toolbox,
        policy_source: PolicySource,
        notifier: Notifier,
        *,
        past: PastTickets | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        spend: SpendSource | None = None,
        tracing: Tracing | None = None,
        fallback: ModelRoute | None = None,
    ) -> None:
        self.config = config
        self.model = model
        self.primary = ModelRoute(config.provider, config.model, model)
        self.fallback = fallback  # None: a provider that stays unavailable stops the job
        self.toolbox = toolbox
        self.policy_source = policy_source
        self.notifier = notifier
        self.past: PastTickets = past if past is not None else NoHistory()
        self.metrics = metrics
        self.sleep = sleep
        self.spend = spend  # None: no daily budget is enforced
        self.tracing = tracing or Tracing.disabled()
        self.tools = tool_definitions()
        self.stamp = RequestStamp(config.model, self.tools)

    def close(self) -> None:
        """Release the model client's connections, the integrations and the executor."""
        for client in (self.model, self.fallback.client if self.fallback else None):
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self.toolbox.close()

    @property
    def scrubber(self) -> Scrubber:
        return self.toolbox.scrubber

    def policy(self) -> Policy:
        """The policy in force now (a loader with no valid policy serves an empty one, which
        denies every command)."""
        return self.policy_source.current()

    def run(self, ctx: JobContext) -> HandlerResult:
        try:
            return self._run(ctx)
        except (LeaseLost, StopRequested):
            raise
        except Exception as exc:
            # `from None`: the original message and its chain must not reach logs unscrubbed
            raise AgentCrashed(self.scrubber.scrub(f"{type(exc).__name__}: {exc}")) from None

    def rebuild(self, ctx: JobContext) -> History:
        """The run's state from the whole log: the one full rebuild, when a run starts."""
        return History.parse(ctx.events)

    def _run(self, job_ctx: JobContext) -> HandlerResult:
        policy = self.policy()
        ticket = job_ctx.job.ticket
        tenant = ticket.tenant or policy.tenant_for_channel(ticket.channel)
        # every append below goes through `ctx`, which applies it to `history` once committed
        ctx = LiveContext(job_ctx, self.rebuild(job_ctx))
        history = ctx.history
        env = StepEnv(ctx, policy, tenant, self.toolbox, self.notifier, self.metrics)
        self._check_pause_drift(env, history)
        self._open_retry(env, history)
        compacted_for_size = False
        steps = StepSpans(self.tracing)
        try:
            while True:
                if history.handoff is not None:
                    return self._deliver(ctx, Handoff.model_validate(history.handoff.data))
                with steps.at(_current_step(history)):
                    turn = history.last_turn
                    held = False  # whether an append just held the lease for a full TTL
                    if turn is not None and turn.response is not None and turn.pending():
                        outcome = self._finish_turn(env, history, turn)
                        if outcome is not None:
                            return outcome
                        continue
                    if turn is None or turn.response is not None:
                        limit = exhausted(history, env.policy.budgets)
                        if limit is not None:
                            return self._stop(
                                env, history, limit.describe(), {"budget": limit.budget}
                            )
                        over = self._over_budget(env)
                        if over is not None:
                            ctx.append(EventKind.BUDGET_EXCEEDED, over.to_dict())
                            return self._stop(
                                env, history, over.describe(), {"budget": "tenant_daily_usd"}
                            )
                        if history.last_input_tokens > self.config.context_tokens:
                            data = compaction(history)
                            if data is not None:
                                ctx.append(EventKind.COMPACTED, data)
                                continue
                        self._refresh_policy(env)
                        ctx.append(EventKind.MODEL_REQUEST, self._request_event(history, env))
                        held = True
                    try:
                        response = self._call_model(env, history, lease_held=held)
                    except ContextTooLarge as exc:
                        data = None if compacted_for_size else compaction(history, force=True)
                        if data is None:
                            return self._fail_or_stop(env, history, exc)
                        compacted_for_size = True
                        ctx.append(EventKind.COMPACTED, {**data, "reason": str(exc)})
                        continue
                    except ModelError as exc:
                        return self._fail_or_stop(env, history, exc)
                    ctx.append(EventKind.MODEL_RESPONSE, response)
                    self._progress(env, history)
                    ctx.checkpoint()
        finally:
            steps.close()

    def _check_pause_drift(self, env: StepEnv, history: History) -> None:
        """After a pause longer than the policy's drift threshold, record it; the next request
        tells the model to re-check (see `messages.DRIFT_NOTE`)."""
        threshold = env.policy.budgets.drift_after_seconds
        if history.paused_seconds > threshold and history.last_drift_seq < history.last_claim_seq:
            env.ctx.append(
                EventKind.DRIFT_CHECK,
                {
                    "reason": "paused",
                    "waited_seconds": round(history.paused_seconds, 1),
                    "threshold": threshold,
                },
            )

    def _open_retry(self, env: StepEnv, history: History) -> None:
        """A retried run continues the conversation: the previous run's `submit_handoff` call
        gets its result now (the operator's request and the old handoff), so the model is asked
        anew instead of the old handoff being delivered again. Idempotent: a call with a
        result is not pending any more."""
        turn = history.last_turn
        if history.retry is None or turn is None:
            return
        for call in turn.pending():
            if call.gave_up and call.expired is not None and call.expired.seq < history.retry.seq:
                # the run gave up waiting for a human: the new run goes on without the reply
                env.ctx.append(
                    EventKind.TOOL_RESULT,
                    {
                        "tool_use_id": call.tool_use_id,
                        "name": call.name,
                        "content": "No human replied within the wait limit; continue without it.",
                        "is_error": True,
                        "retry": True,
                    },
                )
                continue
            called = call.call
            if call.name == "submit_handoff" and called and called.seq < history.retry.seq:
                env.ctx.append(
                    EventKind.TOOL_RESULT,
                    {
                        "tool_use_id": call.tool_use_id,
                        "name": call.name,
                        "content": self.scrubber.scrub(retry_text(history)),
                        "is_error": False,
                        "retry": True,
                    },
                )

    # --- tools ----------------------------------------------------------------------------
    def _finish_turn(self, env: StepEnv, history: History, turn: Turn) -> HandlerResult | None:
        for call in turn.pending():
            if call.gave_up:
                assert call.expired is not None
                after = float(call.expired.data.get("after_seconds", 0))
                what = "the approval request" if call.approval_requested else "the question"
                why = f"nobody answered {what} within {duration(after)}"
                return self._stop(env, history, why, {"wait": call.tool_use_id})
            if call.name == "submit_handoff":
                result = self._submit(env, history, call)
            else:
                started = time.perf_counter()
                waiting = self._traced_call(env, history, call)
                if self.metrics is not None:
                    self.metrics.step_latency.labels("tool").observe(time.perf_counter() - started)
                result = self._wait(waiting) if waiting is not None else None
            if result is not None:
                return result
            if history.handoff is not None:
                return None
            env.ctx.checkpoint()
        return None

    def _traced_call(self, env: StepEnv, history: History, call: ToolCall) -> Waiting | None:
        """`run_call` in an `execute_tool` span whose outcome, decision rule and dependency
        are read from the events the call appended."""
        before = len(env.ctx.events)
        attributes = genai.tool_request(call.name, call.tool_use_id, call.step)
        with self.tracing.span(f"execute_tool {call.name}", attributes) as span:
            waiting = run_call(env, history, call)
            if span.is_recording():
                appended = [(e.kind, e.data) for e in env.ctx.events[before:]]
                span.set_attributes(genai.tool_outcome(appended))
        return waiting

    def _submit(self, env: StepEnv, history: History, call: ToolCall) -> HandlerResult | None:
        ctx = env.ctx
        base = {"tool_use_id": call.tool_use_id, "name": call.name}
        ctx.append(EventKind.TOOL_CALL, {**base, "input": call.input, "step": call.step})
        try:
            submitted = parse_input(call.name, call.input)
            assert isinstance(submitted, SubmitHandoff)
        except ToolInputError as exc:
            ctx.append(EventKind.TOOL_RESULT, {**base, "content": str(exc), "is_error": True})
            return None
        refusal = premature_escalation(submitted, history, env.policy, self.toolbox.available)
        if refusal is not None:
            ctx.append(
                EventKind.TOOL_RESULT,
                {**base, "content": refusal, "is_error": True, "layer_rule": True},
            )
            return None
        handoff = build_handoff(
            job=ctx.job,
            tenant=env.tenant,
            history=history,
            events=ctx.events,
            policy=env.policy,
            past=self.past,
            submitted=submitted,
        )
        return self._conclude(env, handoff, base)

    def _conclude(
        self, env: StepEnv, handoff: Handoff, base: dict[str, Any] | None = None
    ) -> HandlerResult:
        handoff = Handoff.model_validate(self.scrubber.scrub_obj(handoff.model_dump()))
        cost = self.config.prices.of_events(env.ctx.events, self.config.model)
        fallback = next(
            (e.data for e in reversed(env.ctx.events) if e.kind == EventKind.MODEL_FALLBACK), None
        )
        handoff = handoff.model_copy(
            update={
                "cost_usd": round(cost.usd, 6),
                "model_fallback": fallback_line(fallback) if fallback is not None else None,
            }
        )
        score = handoff.score.model_dump() if handoff.score is not None else {}
        env.ctx.append(
            EventKind.ESCALATION_SCORE, {**score, "verdict": handoff.verdict, **(base or {})}
        )
        env.ctx.append(EventKind.HANDOFF, handoff.model_dump())
        return self._deliver(env.ctx, handoff)

    def _deliver(self, ctx: JobContext, handoff: Handoff) -> HandlerResult:
        self.notifier.handoff(ctx, handoff)
        status = JobStatus.ESCALATED if handoff.verdict == "escalated" else JobStatus.SUCCEEDED
        score = handoff.score.model_dump() if handoff.score is not None else None
        return HandlerResult(status=status, verdict=handoff.verdict, data={"score": score})

    def _wait(self, waiting: Waiting) -> HandlerResult:
        return HandlerResult(status=JobStatus.WAITING_HUMAN, data={"question": waiting.question})

    # --- the model ------------------------------------------------------------------------
    def _request_event(self, history: History, env: StepEnv) -> dict[str, Any]:
        versions = self.stamp.versions(env.policy)
        route = self._route(env)
        return {
            "step": history.steps + 1,
            "model": route.model,
            "provider": route.provider,
            "versions": versions,
        }

    def _route(self, env: StepEnv) -> ModelRoute:
        """The primary, until a step of this job had to fall back: from then on the rest of
        the job stays on the fallback rather than spending every retry again at each step.
        Read from the events, so a resumed job keeps the route it was on."""
        if self.fallback is not None and any(
            e.kind == EventKind.MODEL_FALLBACK for e in env.ctx.events
        ):
            return self.fallback
        return self.primary

    def _refresh_policy(self, env: StepEnv) -> None:
        """Take the policy in force now (it reloads without a restart) before each model
        request; a different policy than the last request ran under is a `policy_changed`
        event, so the trace shows where the rules moved under the job."""
        policy = self.policy()
        now = self.stamp.versions(policy)["policy"]
        last = next(
            (
                e.data.get("versions", {}).get("policy")
                for e in reversed(env.ctx.events)
                if e.kind == "model_request"
            ),
            None,
        )
        if last is not None and last != now:
            env.ctx.append(
                EventKind.POLICY_CHANGED,
                {"from": last, "to": now, "version": policy.version},
            )
        env.policy = policy

    def _call_model(self, env: StepEnv, history: History, *, lease_held: bool) -> dict[str, Any]:
        retries_before = history.retries  # `history` counts each retry as it is appended
        messages = build_messages(
            history,
            env.ctx.job.ticket,
            env.tenant,
            output_cap=env.policy.limits.model_output_cap_chars,
            memo=env.turn_memo,
        )
        # tool results and human answers are scrubbed when recorded; the ticket is not
        messages[0] = self.scrubber.scrub_obj(messages[0])
        route = self._route(env)
        request = ModelRequest(
            model=route.model,
            max_tokens=self.config.max_tokens,
            system=self.stamp.system(env.policy),
            tools=self.tools,
            messages=messages,
            job_id=env.ctx.job.id,
        )

        def on_retry(notice: RetryNotice) -> None:
            kind = notice.error.kind
            trace.get_current_span().add_event(
                "retry",
                {"attempt": notice.attempt, "kind": kind, "wait_seconds": notice.wait_seconds},
            )
            env.ctx.append(
                EventKind.RETRY,
                {
                    "dependency": "model",
                    "attempt": notice.attempt,
                    "wait_seconds": round(notice.wait_seconds, 3),
                    "kind": kind,
                    "status": notice.error.status,
                    "reason": self.scrubber.scrub(str(notice.error)),
                },
            )
            if self.metrics is not None:
                self.metrics.retries.labels("model").inc()
                self.metrics.model_errors.labels(kind=kind).inc()
            text = f"{_RETRY_TEXT[kind]}; retry is safe; backing off {notice.wait_seconds:.0f} s"
            self.notifier.progress(
                env.ctx,
                Progress(step=history.steps, text=text, retries=retries_before + notice.attempt),
            )
            env.ctx.checkpoint()

        attempts = 0

        def ask() -> dict[str, Any]:
            # Every attempt goes out on a just-renewed lease. A worker stalled past its lease
            # (CPU starvation, a long GC or swap) still runs: its writes are fenced, but a
            # request is not a write. Without this it could ask for a step another worker has
            # since asked and recorded; now it learns LeaseLost first, and a repeat needs a
            # stall of a whole TTL between this renewal and the request leaving. The first
            # attempt after the `model_request` append needs no renewal of its own: that append
            # held the lease for a full TTL in the same statement, a moment ago.
            nonlocal attempts
            attempts += 1
            if attempts > 1 or not lease_held:
                env.ctx.hold_lease()
            return route.client.create(replace(request, model=route.model))

        started = time.perf_counter()
        with self.tracing.span(
            f"chat {route.model}",
            genai.model_request(route.model, self.config.max_tokens, history.steps),
            kind=SpanKind.CLIENT,
        ) as span:
            try:
                raw = call_with_retries(ask, self.config.retry, on_retry, sleep=self.sleep)
            except ModelRetryable as exc:
                if self.fallback is None or route is self.fallback:
                    raise
                self._fall_back(env, history, route, exc)
                route = self.fallback
                raw = call_with_retries(ask, self.config.retry, on_retry, sleep=self.sleep)
            set_attributes(span, genai.model_response(raw))
        latency = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.step_latency.labels("model").observe(latency)
            self.metrics.model_latency.observe(latency)
            usage = raw.get("usage") or {}
            for direction in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                self.metrics.model_tokens.labels(direction.removesuffix("_tokens")).inc(
                    int(usage.get(direction) or 0)
                )
            spent = self.config.prices.cost(route.model, usage)
            self.metrics.cost_usd.labels(tenant=env.tenant or "").inc(spent.usd)
        content = [_clean_block(b) for b in raw.get("content") or []]
        return {
            "step": history.steps,
            "id": raw.get("id"),
            "content": self.scrubber.scrub_obj(content),
            "stop_reason": raw.get("stop_reason"),
            "usage": _usage(raw.get("usage") or {}),
            "model": route.model,  # prices the call (bot.cost) if the setting changes
            "provider": route.provider,
            "latency_ms": round(latency * 1000, 1),
        }

    def _fall_back(
        self, env: StepEnv, history: History, route: ModelRoute, exc: ModelRetryable
    ) -> None:
        """Record that this step goes to the fallback, and why, before the request leaves."""
        assert self.fallback is not None
        cause = self.scrubber.scrub(str(exc))
        env.ctx.append(
            EventKind.MODEL_FALLBACK,
            {
                "step": history.steps,  # the step in flight: its request is recorded
                "provider": self.fallback.provider,
                "model": self.fallback.model,
                "from_provider": route.provider,
                "from_model": route.model,
                "cause": cause,
                "kind": exc.kind,
                "status": exc.status,
            },
        )
        if self.metrics is not None:
            self.metrics.model_errors.labels(kind=exc.kind).inc()
        self.notifier.progress(
            env.ctx,
            Progress(
                step=history.steps,
                text=f"{route.provider} stayed unavailable ({exc.kind}); "
                f"continuing on {self.fallback.provider}",
                retries=history.retries,
            ),
        )
        env.ctx.checkpoint()

    def _fail_or_stop(self, env: StepEnv, history: History, exc: ModelError) -> HandlerResult:
        message = self.scrubber.scrub(str(exc))
        if self.metrics is not None:  # the call that ended the retries (those counted above)
            self.metrics.model_errors.labels(kind=getattr(exc, "kind", type(exc).__name__)).inc()
        if isinstance(exc, ModelAuthFailed):
            env.ctx.append(
                EventKind.ERROR, {"kind": "model_auth", "message": message, "status": exc.status}
            )
            return HandlerResult(
                status=JobStatus.FAILED, error_kind="model_auth", error_message=message
            )
        if isinstance(exc, ModelRetryable):
            env.ctx.append(
                EventKind.DEGRADED, {"dependency": "model", "reason": message, "retryable": True}
            )
            return self._stop(
                env,
                history,
                f"the model API stayed unavailable ({message})",
                {},
            )
        env.ctx.append(
            EventKind.ERROR, {"kind": "model_rejected", "message": message, "status": exc.status}
        )
        if isinstance(exc, ContextTooLarge):
            return self._stop(
                env, history, "the conversation no longer fits the model's context", {}
            )
        return HandlerResult(
            status=JobStatus.FAILED, error_kind="model_rejected", error_message=message
        )

    def _over_budget(self, env: StepEnv) -> OverBudget | None:
        if self.spend is None:
            return None
        return over_daily_budget(
            self.spend,
            env.tenant,
            env.policy.budgets.tenant_daily_usd,
            self.config.prices,
            self.config.model,
        )

    def _stop(
        self, env: StepEnv, history: History, why: str, extra: dict[str, Any]
    ) -> HandlerResult:
        handoff = stopped_handoff(
            job=env.ctx.job,
            tenant=env.tenant,
            history=history,
            events=env.ctx.events,
            policy=env.policy,
            past=self.past,
            why=why,
        )
        return self._conclude(env, handoff, {"stopped": why, **extra})

    def _progress(self, env: StepEnv, history: History) -> None:
        turn = history.last_turn
        if turn is None or turn.response is None:
            return
        text = next(
            (
                " ".join(str(b["text"]).split())[:200]
                for b in turn.response.data.get("content") or []
                if b.get("type") == "text" and b.get("text")
            ),
            "",
        )
        layer = next(
            (layer_of(env.policy, c.name) for c in turn.tools if layer_of(env.policy, c.name)), None
        )
        degraded = sorted({str(e.data.get("dependency")) for e in history.degraded})
        self.notifier.progress(
            env.ctx,
            Progress(
                step=turn.step, layer=layer, text=text, retries=history.retries, degraded=degraded
            ),
        )


def _current_step(history: History) -> int:
    """The step the next iteration works on: the turn whose tool calls are pending, the turn
    whose model request has no response yet, or else the next one."""
    turn = history.last_turn
    if turn is not None and (turn.response is None or turn.pending()):
        return turn.step
    return history.steps + 1


def _clean_block(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") == "tool_use":
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": block.get("input"),
        }
    if block.get("type") == "text":
        return {"type": "text", "text": block.get("text", "")}
    return {"type": str(block.get("type"))}


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    keys = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    )
    return {k: int(usage.get(k) or 0) for k in keys}
