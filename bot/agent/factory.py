"""Wiring: build the agent handler from settings and the objects the worker already has."""

from __future__ import annotations

from collections.abc import Mapping

from bot.agent.errors import AgentError
from bot.agent.loop import AgentConfig, AgentHandler
from bot.agent.model import AnthropicModel, AwsKeys, ModelClient, ModelRoute
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
        model=model_id(settings, settings.model_provider),
        provider=settings.model_provider,
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


def model_id(settings: Settings, provider: str) -> str:
    """The model's id as `provider` names it (each cloud has its own catalogue)."""
    if provider == "bedrock":
        if not settings.bedrock_model:
            raise AgentError(
                "STEADFAST_BEDROCK_MODEL is not set: Bedrock needs its own model id, e.g. "
                "anthropic.claude-sonnet-4-5-20250929-v1:0 (see docs/model-providers.md)"
            )
        return settings.bedrock_model
    if provider == "vertex":
        if not settings.vertex_model:
            raise AgentError(
                "STEADFAST_VERTEX_MODEL is not set: Vertex AI needs its own model id, e.g. "
                "claude-sonnet-4-5@20250929 (see docs/model-providers.md)"
            )
        return settings.vertex_model
    return settings.model


def model_client(
    settings: Settings, scrubber: Scrubber, provider: str | None = None
) -> AnthropicModel:
    """The SDK client for `provider` (default: `model_provider`), with its region, project and
    endpoint from settings and credentials from its own standard chain."""
    provider = provider or settings.model_provider
    timeout = settings.model_timeout_seconds
    if provider == "bedrock":
        if not settings.bedrock_region:
            raise AgentError(
                "no AWS region for Bedrock: set STEADFAST_BEDROCK_REGION (or AWS_REGION)"
            )
        return AnthropicModel.bedrock(
            region=settings.bedrock_region,
            base_url=settings.bedrock_base_url,
            timeout=timeout,
            keys=aws_keys(settings, scrubber),
        )
    if provider == "vertex":
        if not settings.vertex_region or not settings.vertex_project:
            raise AgentError(
                "Vertex AI needs a region and a project: set STEADFAST_VERTEX_REGION (or "
                "CLOUD_ML_REGION) and STEADFAST_VERTEX_PROJECT (or ANTHROPIC_VERTEX_PROJECT_ID)"
            )
        return AnthropicModel.vertex(
            region=settings.vertex_region,
            project=settings.vertex_project,
            base_url=settings.vertex_base_url,
            timeout=timeout,
            credentials_file=settings.google_application_credentials,
        )
    if settings.anthropic_api_key is None:
        raise AgentError(
            "ANTHROPIC_API_KEY is not set: the agent cannot call the model. Set it (and "
            "ANTHROPIC_BASE_URL to use the emulator), choose another STEADFAST_MODEL_PROVIDER, "
            "or run the worker with --handler scripted"
        )
    key = settings.anthropic_api_key.get_secret_value()
    scrubber.register("anthropic-api-key", key)
    return AnthropicModel(
        api_key=key, base_url=settings.anthropic_base_url, timeout=settings.model_timeout_seconds
    )


def aws_keys(settings: Settings, scrubber: Scrubber) -> AwsKeys | None:
    """Static keys from the settings, registered with the scrubber; None: boto3's chain."""
    if settings.aws_access_key_id is None or settings.aws_secret_access_key is None:
        return None
    secret = settings.aws_secret_access_key.get_secret_value()
    scrubber.register("aws-secret-access-key", secret)
    token = settings.aws_session_token.get_secret_value() if settings.aws_session_token else None
    if token:
        scrubber.register("aws-session-token", token)
    return AwsKeys(settings.aws_access_key_id, secret, token)


def fallback_route(settings: Settings, scrubber: Scrubber) -> ModelRoute | None:
    """The provider a step goes to once the primary's retries are spent; None when unset."""
    provider = settings.model_fallback_provider
    if provider is None:
        return None
    model = settings.model_fallback_model or model_id(settings, provider)
    if provider == settings.model_provider and model == model_id(settings, provider):
        raise AgentError(
            "STEADFAST_MODEL_FALLBACK_PROVIDER names the primary provider and model again; "
            "a fallback must be another provider or another model"
        )
    return ModelRoute(provider, model, model_client(settings, scrubber, provider))


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
    fallback: ModelRoute | None = None,
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
        fallback=(
            fallback
            if fallback is not None or model is not None
            else fallback_route(settings, scrubber)
        ),
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
