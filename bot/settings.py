"""Configuration, read from the environment once, at the entry point, and passed down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.cost import DEFAULT_PRICES, ModelPrice

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob Steadfast has. Build it in the CLI (`Settings()`), never in a library module."""

    model_config = SettingsConfigDict(
        env_prefix="STEADFAST_", extra="ignore", populate_by_name=True
    )

    # --- store ---------------------------------------------------------------------------
    database_url: str = "sqlite:///./steadfast.db"
    max_attempts: int = Field(5, ge=1, description="claims before a job is failed for good")

    # --- worker --------------------------------------------------------------------------
    worker_name: str | None = None
    concurrency: int = Field(4, ge=1, le=512)
    lease_ttl_seconds: float = Field(10.0, gt=0)
    heartbeat_seconds: float | None = Field(None, gt=0, description="default: lease TTL / 3")
    poll_seconds: float = Field(0.5, gt=0, description="idle poll interval on SQLite")
    reap_seconds: float = Field(1.0, gt=0)

    # --- policy --------------------------------------------------------------------------
    policy: Path | None = Field(None, description="policy YAML; default: the shipped policy")

    # --- model ---------------------------------------------------------------------------
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY", "STEADFAST_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=_env("ANTHROPIC_BASE_URL", "STEADFAST_ANTHROPIC_BASE_URL")
    )
    model: str = "claude-sonnet-5-5"  # a current Sonnet; 4.5 is deprecated in the SDK
    model_provider: Literal["anthropic", "bedrock", "vertex"] = Field(
        "anthropic",
        description="where Claude is called: the Claude API (ANTHROPIC_API_KEY), Amazon Bedrock "
        "(the AWS credential chain) or Google Vertex AI (Application Default Credentials)",
    )
    bedrock_model: str | None = Field(
        None,
        description="the Bedrock model or inference-profile id, e.g. "
        "anthropic.claude-sonnet-4-5-20250929-v1:0 or us.anthropic.claude-...-v1:0",
    )
    bedrock_region: str | None = Field(
        None,
        validation_alias=_env("STEADFAST_BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region of the Bedrock runtime endpoint",
    )
    bedrock_base_url: str | None = Field(
        None,
        validation_alias=_env("STEADFAST_BEDROCK_BASE_URL", "ANTHROPIC_BEDROCK_BASE_URL"),
        description="override https://bedrock-runtime.<region>.amazonaws.com (a VPC endpoint, "
        "or the emulator)",
    )
    # AWS's own variable names. Unset: boto3's chain finds credentials (shared profile, EKS
    # IRSA's web identity token, ECS/EC2 roles); set: these static keys are used
    aws_access_key_id: str | None = Field(
        None, validation_alias=_env("AWS_ACCESS_KEY_ID", "STEADFAST_AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, validation_alias=_env("AWS_SECRET_ACCESS_KEY", "STEADFAST_AWS_SECRET_ACCESS_KEY")
    )
    aws_session_token: SecretStr | None = Field(
        None, validation_alias=_env("AWS_SESSION_TOKEN", "STEADFAST_AWS_SESSION_TOKEN")
    )
    vertex_model: str | None = Field(
        None, description="the Vertex AI model id, e.g. claude-sonnet-4-5@20250929"
    )
    vertex_region: str | None = Field(
        None,
        validation_alias=_env("STEADFAST_VERTEX_REGION", "CLOUD_ML_REGION"),
        description="Vertex AI location: a region such as us-east5, or global",
    )
    vertex_project: str | None = Field(
        None,
        validation_alias=_env("STEADFAST_VERTEX_PROJECT", "ANTHROPIC_VERTEX_PROJECT_ID"),
        description="Google Cloud project that has the Claude models enabled",
    )
    vertex_base_url: str | None = Field(
        None,
        validation_alias=_env("STEADFAST_VERTEX_BASE_URL", "ANTHROPIC_VERTEX_BASE_URL"),
        description="override https://<region>-aiplatform.googleapis.com/v1 (a Private Service "
        "Connect endpoint, or the emulator)",
    )
    # Google's own variable name. Unset: Application Default Credentials from the environment
    # (GKE Workload Identity, the metadata server, gcloud's user login)
    google_application_credentials: Path | None = Field(
        None,
        validation_alias=_env(
            "GOOGLE_APPLICATION_CREDENTIALS", "STEADFAST_GOOGLE_APPLICATION_CREDENTIALS"
        ),
        description="a service-account key or external-account (workload identity federation) file",
    )
    model_fallback_provider: Literal["anthropic", "bedrock", "vertex"] | None = Field(
        None,
        description="when the provider stays unavailable after every retry (overloaded, 5xx, "
        "429, timeouts), the step and the rest of the job go here; unset: no fallback",
    )
    model_fallback_model: str | None = Field(
        None, description="the fallback's model id; default: that provider's model setting"
    )
    model_timeout_seconds: float = 120.0
    model_max_tokens: int = 4096
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description='JSON: {"model-prefix": {"input": 3, "output": 15, "cache_read": 0.3, '
        '"cache_write": 3.75}} in USD per million tokens; replaces the default table',
    )
    model_retry_attempts: int = Field(6, ge=1, description="tries per model call, first included")
    model_retry_base_seconds: float = Field(1.0, gt=0, description="first backoff; doubles")
    model_retry_max_seconds: float = Field(60.0, gt=0, description="longest single backoff")
    model_context_tokens: int = Field(
        150_000, ge=1_000, description="compact older turns when a request grows past this"
    )

    # --- Slack ---------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_BOT_TOKEN", "STEADFAST_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_APP_TOKEN", "STEADFAST_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET", "STEADFAST_SLACK_SIGNING_SECRET")
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("SLACK_API_URL", "STEADFAST_SLACK_API_URL")
    )
    sender_lease_ttl_seconds: float = Field(
        5.0,
        gt=0,
        description="outbox sender lease: with several bots, another takes over sending this "
        "long after the sender dies",
    )

    # --- paging (PagerDuty Events API v2, Opsgenie Alert API) ----------------------------
    # Policy routes name these keys; the values never leave the outbox sender.
    paging_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description='JSON: {"name": "routing or API key"}; the policy\'s `pages[].key` names one',
    )
    paging_keys_dir: Path | None = Field(
        None,
        description="a directory of files, one per key: the file name is the name, its content "
        "the key (a mounted Kubernetes Secret); joins STEADFAST_PAGING_KEYS",
    )
    pagerduty_url: str = Field(
        "https://events.pagerduty.com", description="Events API v2 base; /v2/enqueue is added"
    )
    opsgenie_url: str = Field(
        "https://api.opsgenie.com", description="Alert API base (EU: https://api.eu.opsgenie.com)"
    )
    paging_timeout_seconds: float = Field(10.0, gt=0)

    # --- Vault ---------------------------------------------------------------------------
    vault_addr: str | None = Field(
        None, validation_alias=_env("VAULT_ADDR", "STEADFAST_VAULT_ADDR")
    )
    vault_token: SecretStr | None = Field(
        None, validation_alias=_env("VAULT_TOKEN", "STEADFAST_VAULT_TOKEN")
    )
    vault_auth: str = Field("token", description="token | approle | kubernetes")
    vault_role_id: str | None = None
    vault_secret_id: SecretStr | None = None
    vault_kubernetes_role: str | None = None
    vault_kubernetes_jwt_path: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    vault_timeout_seconds: float = 5.0

    # --- Kubernetes ----------------------------------------------------------------------
    kubeconfig: Path | None = Field(
        None, validation_alias=_env("KUBECONFIG", "STEADFAST_KUBECONFIG")
    )
    kube_in_cluster: bool = False
    kube_timeout_seconds: float = 10.0
    kube_api_server: str | None = Field(
        None, description="API server URL when no kubeconfig (in-cluster: kubernetes.default.svc)"
    )
    kube_token_path: Path | None = Field(
        None, description="bearer token file, re-read on 401 (in-cluster: the projected SA token)"
    )
    kube_ca_path: Path | None = Field(None, description="CA bundle for the API server")

    # --- runner (where model-chosen commands run) ----------------------------------------
    runner_socket: Path | None = Field(
        None,
        description="the runner's Unix socket; unset: the worker starts a local runner "
        "subprocess with a clean environment",
    )
    runner_kubeconfig: Path | None = Field(
        None, description="the read-only kubeconfig the runner gives kubectl (runner side)"
    )
    runner_bin_dir: Path | None = Field(
        None, description="searched first for the programs commands name (runner side)"
    )
    runner_sandbox: Literal["auto", "require", "off"] = Field(
        "auto", description="bwrap around each command: when it works, required, or never"
    )

    # --- platform HTTP APIs and log stores -----------------------------------------------
    # NoDecode: the validators below parse the JSON, so a typo is one clear line, not a
    # pydantic-settings traceback
    platform_apis: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description='JSON: {"name": "https://base.url"}'
    )
    platform_api_auth: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description='JSON: {"name": "vault:secret/path#key" | "env:VAR"}; sent as a bearer token',
    )
    loki_url: str | None = None
    elasticsearch_url: str | None = None
    http_timeout_seconds: float = 10.0

    # --- alerts (Alertmanager's webhook; docs/alerts-and-paging.md) -----------------------
    alerts_token: SecretStr | None = Field(
        None,
        description="bearer token (or basic-auth password) Alertmanager sends to POST "
        "/alerts/alertmanager; unset: the endpoint is off",
    )
    alerts_username: str = Field(
        "alertmanager", description="the basic-auth username that goes with STEADFAST_ALERTS_TOKEN"
    )
    alerts_port: int | None = Field(
        None, ge=0, le=65535, description="serve the alert endpoint here; unset: the health port"
    )
    alerts_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="larger webhook bodies are refused (413)"
    )

    # --- ops -----------------------------------------------------------------------------
    health_port: int | None = Field(None, description="serve /healthz, /readyz, /metrics here")
    db_metrics: bool = Field(
        True,
        description="export the database-derived gauges (jobs by status, queue, outbox, human "
        "waits) from this process; turn on in exactly one (the chart: the bot)",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    log_format: Literal["json", "text"] | None = Field(
        None, description="json or text; unset: text on a terminal, JSON otherwise"
    )

    # --- trace console (docs/console.md) -------------------------------------------------
    console_port: int | None = Field(
        None, ge=0, le=65535, description="serve the read-only trace console here; unset: off"
    )
    console_host: str = Field("127.0.0.1", description="the console's bind address")
    console_public_base_url: str | None = Field(
        None,
        description="the console's URL as browsers reach it (e.g. https://steadfast.example.com);"
        " handoff links start with it. Unset: handoffs carry no console link",
    )
    console_secret: SecretStr | None = Field(
        None,
        description="HMAC key that signs console links (32+ bytes); required with the console",
    )

    # OpenTelemetry's own variable names, so a collector sidecar's usual environment works
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=_env(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "STEADFAST_OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="OTLP/HTTP base URL; traces go to <url>/v1/traces. Unset: tracing off",
    )
    otel_service_name: str | None = Field(
        None, validation_alias=_env("OTEL_SERVICE_NAME", "STEADFAST_OTEL_SERVICE_NAME")
    )

    @field_validator("platform_apis", "platform_api_auth", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return _parse_object(value, '{"name": "https://base.url"}')

    @field_validator("paging_keys", mode="before")
    @classmethod
    def _paging_keys(cls, value: Any) -> Any:
        # the message never quotes the value: it is made of credentials
        return _parse_object(value, '{"oncall-pd": "<routing key>"}')

    @field_validator("console_public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or any(c in value for c in '<>|" \n'):
            raise ValueError(
                f"must be an http(s) URL such as https://steadfast.example.com, got {value!r}"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
            return value.strip().upper()
        raise ValueError(f"unknown log level {value!r}; use one of {', '.join(LOG_LEVELS)}")

    @property
    def heartbeat_interval(self) -> float:
        return self.heartbeat_seconds or self.lease_ttl_seconds / 3


def _parse_object(value: Any, example: str) -> Any:
    """A JSON object from an environment string; errors say where, never quote the value."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value) if value.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not JSON ({exc.msg} at character {exc.pos}); write an object such as {example}"
        ) from None
    if not isinstance(parsed, dict):
        raise ValueError(f"must be a JSON object such as {example}")
    return parsed
