"""Running one tool call: the sandbox gate and executor for commands, the integrations for
structured tools. Returns a `ToolOutcome`; never raises for anything a dependency does.
Every text that leaves here is scrubbed of secrets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace

from bot.agent import tools as t
from bot.agent.refreshes import RefreshEvents
from bot.tracing import Tracing
from core.scrubber import Scrubber
from integrations.outcome import Degraded, Ok
from policy.document import Policy
from policy.judge import CommandRun
from sandbox.gate import Gate


@dataclass
class ToolOutcome:
    content: str
    is_error: bool = False
    blocked: dict[str, Any] | None = None  # rule, reason, hint, command
    degraded: Degraded | None = None
    data: dict[str, Any] = field(default_factory=dict)  # extra fields for the event


class CommandSandbox(Protocol):
    """Gate + executor behind one seam (the real one is `SandboxRunner`)."""

    def decide(self, policy: Policy, command: str, tenant: str | None) -> Any:
        """A decision with `allowed`, `rule`, `reason`, `hint`."""
        ...

    def execute(self, policy: Policy, decision: Any) -> Any:
        """An ExecResult with exit_code, stdout, stderr, truncated, timed_out, duration_s."""
        ...


class SandboxRunner:
    """`sandbox.gate.Gate` + `sandbox.executor.Executor`. The gate is built from the current
    policy on every call so a reload takes effect at the next command; the executor (which
    probes bwrap and owns a temp dir) is kept while the policy's limits stay the same."""

    def __init__(self, **executor_options: Any) -> None:
        self._options = executor_options
        self._lock = threading.Lock()
        self._executor: Any = None
        self._limits: Any = None

    def decide(self, policy: Policy, command: str, tenant: str | None) -> Any:
        return Gate(policy).judge(CommandRun(command), tenant)

    def execute(self, policy: Policy, decision: Any) -> Any:
        from sandbox.executor import Executor

        with self._lock:
            if self._executor is None or self._limits != policy.limits:
                if self._executor is not None:
                    self._executor.close()
                self._executor = Executor(policy.limits, **self._options)
                self._limits = policy.limits
            executor = self._executor
        return executor.run(decision)

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.close()
                self._executor = None


@dataclass
class Clients:
    """The integrations this deployment has; a missing one degrades its tools."""

    vault: Any = None
    kubernetes: Any = None
    http: Any = None
    logs: Any = None


_NEEDS = {
    "run_command": "sandbox",
    "k8s_list": "kubernetes",
    "k8s_get": "kubernetes",
    "k8s_logs": "kubernetes",
    "k8s_rollout_status": "kubernetes",
    "http_get": "http",
    "query_logs": "logs",
    "check_tenant_credentials": "vault",
}


class Toolbox:
    def __init__(
        self,
        clients: Clients,
        sandbox: CommandSandbox | None,
        scrubber: Scrubber,
        refreshes: RefreshEvents | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.clients = clients
        self.tracing = tracing or Tracing.disabled()
        self.sandbox = sandbox
        self.scrubber = scrubber
        # fed by the integrations' on_refresh observer (see bot/agent/factory.py)
        self.refreshes = refreshes or RefreshEvents()

    def close(self) -> None:
        """Close the integration clients and the sandbox's executor."""
        for client in (
            self.clients.vault,
            self.clients.kubernetes,
            self.clients.http,
            self.clients.logs,
            self.sandbox,
        ):
            close = getattr(client, "close", None)
            if callable(close):
                close()

    def available(self, tool: str) -> bool:
        need = _NEEDS.get(tool)
        if need is None:
            return tool in t.TOOLS
        if need == "sandbox":
            return self.sandbox is not None
        client = getattr(self.clients, need)
        if need == "logs" and client is not None:
            return bool(getattr(client, "stores", True))
        return client is not None

    def run(self, name: str, args: t._Input, policy: Policy, tenant: str | None) -> ToolOutcome:
        need = _NEEDS.get(name)
        if need is not None and not self.available(name):
            dep = "sandbox" if need == "sandbox" else need
            return self._degraded(Degraded(dep, f"{dep} is not configured", retryable=False))
        if isinstance(args, t.RunCommand):
            return self._command(args, policy, tenant)
        # structured tools: the integration asks the judge (the gate) before it calls out
        call: Callable[[], Any] = self._structured(args, tenant)
        try:
            outcome = call()
        except Exception as exc:  # an adapter bug must not end the investigation
            outcome = Degraded(need or name, f"{type(exc).__name__}: {exc}", retryable=False)
        if isinstance(outcome, Degraded) and outcome.denied is not None:
            d = outcome.denied
            return self._blocked(name, d.rule, d.reason, d.hint, _describe(name, args))
        if isinstance(outcome, Degraded):
            return self._degraded(outcome)
        value = outcome.value if isinstance(outcome, Ok) else outcome
        return ToolOutcome(self.scrubber.scrub(_render(value)))

    # --- commands -------------------------------------------------------------------------
    def _command(self, args: t.RunCommand, policy: Policy, tenant: str | None) -> ToolOutcome:
        assert self.sandbox is not None
        tool_span = trace.get_current_span()
        with self.tracing.span("gate.decide", {"steadfast.tenant": tenant}) as span:
            decision = self.sandbox.decide(policy, args.command, tenant)
            span.set_attributes(
                {
                    "steadfast.gate.allowed": bool(decision.allowed),
                    "steadfast.gate.rule": str(decision.rule),
                }
            )
        tool_span.set_attribute("steadfast.tool.rule", str(decision.rule))
        if not decision.allowed:
            return self._blocked(
                "run_command", decision.rule, decision.reason, decision.hint, args.command
            )
        try:
            result = self.sandbox.execute(policy, decision)
        except Exception as exc:  # refused at execution, or an executor bug: not the run's end
            reason = f"the sandbox could not run it: {type(exc).__name__}: {exc}"
            return self._degraded(Degraded("sandbox", reason, retryable=False))
        parts = [f"exit code: {result.exit_code}"]
        if result.timed_out:
            parts.append("(timed out: the command was stopped)")
        if result.truncated:
            parts.append("(output capped by the sandbox)")
        if result.stdout:
            parts.append(f"stdout:\n{result.stdout}")
        if result.stderr:
            parts.append(f"stderr:\n{result.stderr}")
        return ToolOutcome(
            self.scrubber.scrub("\n".join(parts)),
            is_error=result.exit_code != 0 or bool(result.timed_out),
            data={"exit_code": result.exit_code, "duration_s": result.duration_s},
        )

    # --- structured tools -----------------------------------------------------------------
    def _structured(self, args: t._Input, tenant: str | None) -> Callable[[], Any]:
        c = self.clients
        if isinstance(args, t.KubernetesList):
            return lambda: c.kubernetes.list(
                args.resource, args.namespace, tenant, label_selector=args.label_selector
            )
        if isinstance(args, t.KubernetesGet):
            return lambda: c.kubernetes.get(args.resource, args.name, args.namespace, tenant)
        if isinstance(args, t.KubernetesLogs):
            return lambda: c.kubernetes.logs(
                args.pod,
                args.namespace,
                tenant,
                container=args.container,
                tail_lines=args.tail_lines,
            )
        if isinstance(args, t.KubernetesRolloutStatus):
            return lambda: c.kubernetes.rollout_status(args.deployment, args.namespace, tenant)
        if isinstance(args, t.HttpGet):
            return lambda: c.http.get(args.url, tenant)
        if isinstance(args, t.QueryLogs):
            store = args.store or next(iter(getattr(c.logs, "stores", None) or {"default": 0}))
            return lambda: c.logs.query(
                store, args.query, tenant, since_seconds=args.since_minutes * 60, limit=args.limit
            )
        if isinstance(args, t.CheckTenantCredentials):
            if tenant is None:
                return lambda: Degraded(
                    "vault", "the ticket's channel maps to no tenant", retryable=False
                )
            return lambda: c.vault.check_credentials(tenant)
        raise AssertionError(f"no runner for {type(args).__name__}")

    def _blocked(
        self, name: str, rule: str | None, reason: str, hint: str, what: str
    ) -> ToolOutcome:
        blocked: dict[str, Any] = {
            "rule": rule,
            "reason": self.scrubber.scrub(reason),
            "hint": self.scrubber.scrub(hint or ""),
            "command": self.scrubber.scrub(what),
        }
        return ToolOutcome(str(blocked["reason"]), is_error=True, blocked=blocked)

    def _degraded(self, degraded: Degraded) -> ToolOutcome:
        reason = self.scrubber.scrub(degraded.reason)
        clean = Degraded(degraded.dependency, reason, degraded.retryable)
        advice = "retrying later may work" if degraded.retryable else "retrying will not help"
        return ToolOutcome(
            f"{degraded.dependency} could not answer: {reason} ({advice}). "
            "List it under could_not_reach and continue with other sources.",
            is_error=True,
            degraded=clean,
        )


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def _describe(name: str, args: t._Input) -> str:
    return f"{name} {json.dumps(args.model_dump(exclude_none=True), sort_keys=True)}"
