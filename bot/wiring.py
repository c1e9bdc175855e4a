"""The one factory that builds the integrations for every process (`worker`, `run`, `doctor`
and the demo's worker): each adapter's own small config from `Settings`, plus the process
environment for secrets named by reference (`env:VAR`).

The environment is a required argument, not a default: a caller that forgot it would build
adapters that silently send no credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.console.app import ConsoleApp
from bot.console.links import ConsoleLinks
from bot.console.tokens import TokenSigner
from bot.console.views import Views
from bot.cost import PriceTable
from bot.errors import ConfigError
from bot.settings import Settings
from bot.store.store import Store
from core.scrubber import Scrubber
from integrations.http import ApiConfig, HttpClient, HttpConfig
from integrations.kubernetes import KubernetesClient, KubernetesConfig
from integrations.logs import LogsConfig, LogStoreConfig, LogStores
from integrations.paging import PagingConfig
from integrations.refresh import RefreshObserver
from integrations.registry import Integrations
from integrations.vault import VaultClient, VaultConfig
from policy.judge import Judge
from policy.source import PolicySource
from sandbox.gate import GateJudge


def vault_config(settings: Settings) -> VaultConfig:
    return VaultConfig(
        addr=settings.vault_addr,
        auth=settings.vault_auth,
        token=settings.vault_token,
        role_id=settings.vault_role_id,
        secret_id=settings.vault_secret_id,
        kubernetes_role=settings.vault_kubernetes_role,
        kubernetes_jwt_path=settings.vault_kubernetes_jwt_path,
        timeout_seconds=settings.vault_timeout_seconds,
    )


def kubernetes_config(settings: Settings) -> KubernetesConfig:
    return KubernetesConfig(
        api_server=settings.kube_api_server,
        kubeconfig=settings.kubeconfig,
        in_cluster=settings.kube_in_cluster,
        token_path=settings.kube_token_path,
        ca_path=settings.kube_ca_path,
        timeout_seconds=settings.kube_timeout_seconds,
    )


def http_config(settings: Settings) -> HttpConfig:
    return HttpConfig(timeout_seconds=settings.http_timeout_seconds)


def apis_from_settings(settings: Settings, environ: Mapping[str, str]) -> dict[str, ApiConfig]:
    """The named platform APIs with their credentials resolved: "env:VAR" from `environ`,
    "vault:path#key" read by the HTTP client when first needed."""
    apis: dict[str, ApiConfig] = {}
    for name, base in settings.platform_apis.items():
        auth = settings.platform_api_auth.get(name, "")
        token: SecretStr | None = None
        vault_path: str | None = None
        if auth.startswith("env:"):
            variable = auth[4:]
            value = environ.get(variable)
            if not value:
                raise ConfigError(
                    f"platform_api_auth[{name!r}] takes its token from the environment variable "
                    f"{variable}, which is not set in this process; set it (or use 'vault:')"
                )
            token = SecretStr(value)
        elif auth.startswith("vault:"):
            vault_path = auth[6:]
        elif auth:
            raise ConfigError(
                f"platform_api_auth[{name!r}] must start with 'env:' or 'vault:', got {auth!r}"
            )
        apis[name] = ApiConfig(base_url=base, token=token, token_vault_path=vault_path)
    return apis


def logs_config(settings: Settings) -> LogsConfig:
    stores: dict[str, LogStoreConfig] = {}
    if settings.loki_url:
        stores["loki"] = LogStoreConfig("loki", settings.loki_url.rstrip("/"))
    if settings.elasticsearch_url:
        parts = urlsplit(settings.elasticsearch_url)
        index = parts.path.strip("/") or "*"
        base = f"{parts.scheme}://{parts.netloc}"
        stores["elasticsearch"] = LogStoreConfig("elasticsearch", base, index=index)
    return LogsConfig(stores=stores, timeout_seconds=settings.http_timeout_seconds)


def paging_keys(settings: Settings) -> dict[str, SecretStr]:
    """The paging keys by name: STEADFAST_PAGING_KEYS, then one file per key in
    STEADFAST_PAGING_KEYS_DIR (a mounted Secret; dotfiles, such as Kubernetes' `..data`
    links, are skipped). Raises ConfigError when the directory cannot be read."""
    keys = dict(settings.paging_keys)
    folder = settings.paging_keys_dir
    if folder is not None:
        try:
            files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
            for path in files:
                if path.is_file():
                    keys[path.name] = SecretStr(path.read_text().strip())
        except OSError as exc:
            raise ConfigError(
                f"cannot read the paging keys in {folder}: {exc.strerror}; check "
                "STEADFAST_PAGING_KEYS_DIR and the mounted Secret"
            ) from None
    return keys


def paging_config(settings: Settings) -> PagingConfig:
    return PagingConfig(
        keys=paging_keys(settings),
        pagerduty_url=settings.pagerduty_url,
        opsgenie_url=settings.opsgenie_url,
        timeout_seconds=settings.paging_timeout_seconds,
    )


def build_integrations(
    settings: Settings,
    judge: Judge,
    scrubber: Scrubber,
    *,
    environ: Mapping[str, str],
    metrics: Any | None = None,
    on_refresh: RefreshObserver | None = None,
) -> Integrations:
    """Every integration the settings configure; missing ones are None (their tools degrade).
    `environ` is the process environment, passed by the entry point. `on_refresh` hears every
    credential refresh (Vault re-login/renewal, Kubernetes token re-read)."""
    apis = apis_from_settings(settings, environ)
    vault = (
        VaultClient(vault_config(settings), judge, scrubber, metrics=metrics, on_refresh=on_refresh)
        if settings.vault_addr
        else None
    )
    kube = kubernetes_config(settings)
    kubernetes = (
        KubernetesClient(kube, judge, scrubber, metrics=metrics, on_refresh=on_refresh)
        if kube.configured
        else None
    )
    http = HttpClient(http_config(settings), judge, scrubber, apis, vault=vault, metrics=metrics)
    logs = LogStores(logs_config(settings), judge, scrubber, metrics=metrics)
    return Integrations(scrubber, vault, kubernetes, http, logs)


# --- the trace console (docs/console.md) ----------------------------------------------------
def console_signer(settings: Settings) -> TokenSigner:
    """The signer of console links. No secret, no console: links are never signed with a
    default key, which anyone could read from this file."""
    if settings.console_secret is None:
        raise ConfigError(
            "STEADFAST_CONSOLE_SECRET is not set; the console signs its links with it. Generate "
            "one: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    try:
        return TokenSigner(settings.console_secret)
    except ValueError as exc:
        raise ConfigError(f"STEADFAST_CONSOLE_SECRET: {exc}") from None


def console_links(settings: Settings, policy: PolicySource) -> ConsoleLinks | None:
    """Links for handoffs and `/steadfast console`; None when the console has no public URL
    (then handoffs carry no console link)."""
    if settings.console_public_base_url is None:
        return None
    return ConsoleLinks(console_signer(settings), settings.console_public_base_url, policy)


def build_console(
    settings: Settings, store: Store, policy: PolicySource, scrubber: Scrubber
) -> ConsoleApp:
    """The console's WSGI app: the store read-only, the process scrubber on every rendered
    string, and the one judge for the policy playground."""
    views = Views(scrubber.scrub, PriceTable(settings.model_prices), settings.model)
    return ConsoleApp(store, console_signer(settings), views, GateJudge(policy))
