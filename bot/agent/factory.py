"""Wiring: build the agent handler from settings and the objects the worker already has."""

from __future__ import annotations

from collections.abc import Mapping

from bot.agent.errors import AgentError
from bot.agent.loop import AgentConfig, AgentHandler
from bot.agent.model import AnthropicModel, ModelClient
from bot.agent.refreshes import RefreshEvents
from bot.agent.retry import RetryPolicy
from bot.agent.score import PastTickets
from bot.agent.spend import SpendSource
from bot.agent.toolbox import Clients, CommandSandbox, SandboxRunner, Toolbox
from bot.cost import PriceTable
from bot.metrics import Metrics
from bot.notify import Notifier, NullNotifier
from bot.settings import Settings
from bot.tracing import Tracing
from core.scrubber import Scrubber
from policy.source import PolicySource


def agent_config(settings: Settings) -> AgentConfig:
    return AgentConfig(
        model=settings.model,
        max_tokens=settings.model_max_tokens,
        prices=PriceTable(settings.model_prices),
        retry=RetryPolicy(
            attempts=settings.model_retry_attempts,
            base_seconds=settings.model_retry_base_seconds,
            max_seconds=settings.model_retry_max_seconds,
            max_retry_after=settings.model_retry_max_seconds,
        ),
        context_tokens=settings.model_context_tokens,
    )


def model_client(settings: Settings, scrubber: Scrubber) -> AnthropicModel:
    if settings.anthropic_api_key is None:
        raise AgentError(
            "ANTHROPIC_API_KEY is not set: the agent cannot call the model. Set it (and "
            "ANTHROPIC_BASE_URL to use the emulator), or run the worker with --handler scripted"
        )
    key = settings.anthropic_api_key.get_secret_value()
    scrubber.register("anthropic-api-key", key)
    return AnthropicModel(
        api_key=key, base_url=settings.anthropic_base_url, timeout=settings.model_timeout_seconds
    )


def build_agent(
    settings: Settings,
    store: PastTickets | None,
    policy_loader: PolicySource,
    scrubber: Scrubber | None = None,
    notifier: Notifier | None = None,
    metrics: Metrics | None = None,
    clients: Clients | None = None,
    *,
    model: ModelClient | None = None,
    sandbox: CommandSandbox | None = None,
    refreshes: RefreshEvents | None = None,
    tracing: Tracing | None = None,
) -> AgentHandler:
    """The agent for a worker. `store` supplies past tickets for the escalation score;
    `policy_loader` is the policy in force (a `PolicyLoader`); `clients` holds the
    integrations this deployment has (missing ones degrade their tools)."""
    scrubber = scrubber or Scrubber()
    toolbox = Toolbox(
        clients or Clients(), sandbox or SandboxRunner(), scrubber, refreshes, tracing=tracing
    )
    return AgentHandler(
        agent_config(settings),
        model or model_client(settings, scrubber),
        toolbox,
        policy_loader,
        notifier or NullNotifier(),
        past=store,
        metrics=metrics,
        spend=store if isinstance(store, SpendSource) else None,
        tracing=tracing,
    )


def clients_from_settings(
    settings: Settings,
    policy_loader: PolicySource,
    scrubber: Scrubber,
    *,
    environ: Mapping[str, str],
    metrics: Metrics | None = None,
    refreshes: RefreshEvents | None = None,
) -> Clients:
    """Every integration the settings configure (`bot.wiring`), each judged by the gate; their
    credential refreshes go to `refreshes`."""
    from bot.wiring import build_integrations
    from sandbox.gate import GateJudge

    found = build_integrations(
        settings,
        GateJudge(policy_loader),
        scrubber,
        environ=environ,
        metrics=metrics,
        on_refresh=refreshes.record if refreshes is not None else None,
    )
    return Clients(vault=found.vault, kubernetes=found.kubernetes, http=found.http, logs=found.logs)


def runner_sandbox(settings: Settings, environ: Mapping[str, str]) -> CommandSandbox:
    """Where the worker's commands run: the runner at `runner_socket` (the chart's second
    container), or else a local runner subprocess started with a clean environment: the
    policy and the runner's own settings, none of the worker's secrets."""
    from sandbox.runner import LocalRunner, RunnerClient

    if settings.runner_socket is not None:
        return RunnerClient(settings.runner_socket)
    env = {
        "STEADFAST_LOG_LEVEL": settings.log_level,
        "STEADFAST_RUNNER_SANDBOX": settings.runner_sandbox,
    }
    if settings.policy is not None:
        env["STEADFAST_POLICY"] = str(settings.policy.resolve())
    if settings.runner_kubeconfig is not None:
        env["STEADFAST_RUNNER_KUBECONFIG"] = str(settings.runner_kubeconfig.resolve())
    if settings.runner_bin_dir is not None:
        env["STEADFAST_RUNNER_BIN_DIR"] = str(settings.runner_bin_dir.resolve())
    return LocalRunner(env, environ=environ)


def build_agent_for_worker(
    settings: Settings,
    store: PastTickets | None,
    policy_loader: PolicySource | None = None,
    notifier: Notifier | None = None,
    *,
    metrics: Metrics | None = None,
    environ: Mapping[str, str],
    scrubber: Scrubber | None = None,
    tracing: Tracing | None = None,
) -> AgentHandler:
    """What `steadfast worker --handler agent` runs: the policy from `settings.policy`
    (reloaded on change), the integrations the settings configure, the runner for commands."""
    from policy.loader import PolicyLoader

    loader: PolicySource = (
        policy_loader if policy_loader is not None else PolicyLoader(settings.policy)
    )
    scrubber = scrubber or Scrubber()  # the process's, when its logging scrubs with it too
    refreshes = RefreshEvents()
    clients = clients_from_settings(
        settings, loader, scrubber, environ=environ, metrics=metrics, refreshes=refreshes
    )
    sandbox = runner_sandbox(settings, environ)
    return build_agent(
        settings,
        store,
        loader,
        scrubber,
        notifier,
        metrics,
        clients,
        sandbox=sandbox,
        refreshes=refreshes,
        tracing=tracing,
    )
