"""The demo's world, shared with the chaos suite: every emulator started in this process on
loopback, the environment a worker subprocess needs to reach them, and the bot in-process."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.alerts.endpoint import PATH as ALERTS_PATH
from bot.console.links import ConsoleLinks
from bot.demo.providers import provider_env
from bot.metrics import Metrics
from bot.ops.health import HealthServer
from bot.settings import Settings
from bot.store import Store
from bot.tracing import Tracing
from emulators.anthropic import AnthropicEmulator
from emulators.base import DEFAULT_SCENARIO, Emulator, load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import LokiEmulator
from emulators.opsgenie import OpsgenieEmulator
from emulators.pagerduty import PagerDutyEmulator
from emulators.platform import PlatformEmulator
from emulators.slack import SlackEmulator
from emulators.vault import VaultEmulator
from policy.loader import SHIPPED_POLICY, PolicyLoader

DEMO_SCRIPT = DEFAULT_SCENARIO.parent / "anthropic_demo.yaml"
TICKET_CHANNEL = "C0ACME"
ONCALL_CHANNEL = "C0ONCALL"
REPORTER = "U0ALICE"
CACHED_TOOLS = Path(__file__).resolve().parents[2] / ".cache" / "tools" / "bin"
API_KEY = "sk-ant-demo-offline"
# The demo's on-call route pages PagerDuty with this routing key, named in the policy only as
# PAGING_KEY_NAME (the key itself lives in the settings, as a real deployment's would).
PAGING_KEY_NAME = "demo-oncall"
PAGERDUTY_ROUTING_KEY = "DEMO0FFL1NE0R0UT1NGKEY0000000001"


def demo_scenario(script: Path = DEMO_SCRIPT) -> dict[str, Any]:
    """The shared scenario plus the demo's scripted investigation. The emulated cluster
    accepts requests without a token: kubectl (in the runner) sends credentials only over TLS,
    and the emulator speaks plain HTTP on loopback."""
    scenario = load_scenario()
    scenario.update(yaml.safe_load(script.read_text()))
    scenario.setdefault("cluster", {})["tokens"] = []
    return scenario


@dataclass
class Stack:
    slack: SlackEmulator
    anthropic: AnthropicEmulator
    vault: VaultEmulator
    kubernetes: KubernetesEmulator
    platform: PlatformEmulator
    loki: LokiEmulator
    pagerduty: PagerDutyEmulator | None = None  # the demo's pager; harnesses may go without
    opsgenie: OpsgenieEmulator | None = None

    @classmethod
    def start(cls, scenario: dict[str, Any]) -> Stack:
        return cls(
            slack=SlackEmulator(scenario).start(),
            anthropic=AnthropicEmulator(scenario).start(),
            vault=VaultEmulator(scenario).start(),
            kubernetes=KubernetesEmulator(scenario).start(),
            platform=PlatformEmulator(scenario).start(),
            loki=LokiEmulator(scenario).start(),
            pagerduty=PagerDutyEmulator(
                {"pagerduty": {"routing_keys": [PAGERDUTY_ROUTING_KEY]}}
            ).start(),
            opsgenie=OpsgenieEmulator({"opsgenie": {"api_keys": []}}).start(),
        )

    def emulators(self) -> tuple[Emulator, ...]:
        pagers = tuple(e for e in (self.pagerduty, self.opsgenie) if e is not None)
        return (
            self.slack,
            self.anthropic,
            self.vault,
            self.kubernetes,
            self.platform,
            self.loki,
            *pagers,
        )

    def stop(self) -> None:
        for emulator in self.emulators():
            emulator.stop()

    def mention(self, channel: str, user: str, text: str) -> dict[str, Any]:
        """A human mentions the bot: the message lands in the emulated channel and Slack's
        `app_mention` event goes to the bot over Socket Mode. Returns the stored message."""
        message = self.slack.user_message(channel, user, text)
        self.slack.socket.send(
            "events_api",
            {
                "type": "event_callback",
                "team_id": self.slack.team_id,
                "api_app_id": "A0STEADFAST",
                "event": self.slack.mention_event(message),
                "event_id": f"Ev{message['ts'].replace('.', '')}",
                "event_time": int(time.time()),
                "authorizations": [{"user_id": self.slack.bot_user_id, "is_bot": True}],
            },
        )
        return message

    def settings_env(
        self, *, database_url: str, workdir: Path, provider: str = "anthropic"
    ) -> dict[str, str]:
        """Everything Steadfast reads, pointed at the emulators, with Claude called through
        `provider` (`bot.demo.providers`). Nothing from the user's own environment leaks in:
        the demo must behave the same on every laptop."""
        scenario = self.vault.scenario
        vault_token = str(((scenario.get("vault") or {}).get("tokens") or [{}])[0].get("token"))
        kube_token = str(((scenario.get("cluster") or {}).get("tokens") or ["demo"])[0])
        token_file = workdir / "kube-token"
        token_file.write_text(kube_token)
        runner = {"STEADFAST_RUNNER_KUBECONFIG": str(self.runner_kubeconfig(workdir))}
        paging: dict[str, str] = {}
        if self.pagerduty is not None:
            paging["STEADFAST_PAGING_KEYS"] = f'{{"{PAGING_KEY_NAME}": "{PAGERDUTY_ROUTING_KEY}"}}'
            paging["STEADFAST_PAGERDUTY_URL"] = self.pagerduty.url
        if self.opsgenie is not None:
            paging["STEADFAST_OPSGENIE_URL"] = self.opsgenie.url
        if CACHED_TOOLS.is_dir():  # `make tools` puts kubectl here
            runner["STEADFAST_RUNNER_BIN_DIR"] = str(CACHED_TOOLS)
        return {
            **runner,
            **paging,
            "STEADFAST_POLICY": str(demo_policy(workdir, page=self.pagerduty is not None)),
            "STEADFAST_DATABASE_URL": database_url,
            "STEADFAST_LEASE_TTL_SECONDS": "2",
            "STEADFAST_REAP_SECONDS": "0.5",
            "STEADFAST_POLL_SECONDS": "0.1",
            "STEADFAST_LOG_LEVEL": "WARNING",
            "ANTHROPIC_API_KEY": API_KEY,
            "ANTHROPIC_BASE_URL": self.anthropic.url,
            "STEADFAST_MODEL_RETRY_BASE_SECONDS": "0.5",
            "SLACK_BOT_TOKEN": "xoxb-demo-offline",
            "SLACK_APP_TOKEN": "xapp-demo-offline",
            "SLACK_API_URL": self.slack.api_url,
            "VAULT_ADDR": self.vault.url,
            "VAULT_TOKEN": vault_token,
            "STEADFAST_VAULT_TIMEOUT_SECONDS": "1",
            "STEADFAST_KUBE_API_SERVER": self.kubernetes.url,
            "STEADFAST_KUBE_TOKEN_PATH": str(token_file),
            "STEADFAST_PLATFORM_APIS": f'{{"platform": "{self.platform.url}"}}',
            "STEADFAST_PLATFORM_API_AUTH": '{"platform": "vault:secret/platform/api#token"}',
            "STEADFAST_LOKI_URL": self.loki.url,
            **provider_env(provider, self.anthropic.url, workdir),
        }

    def runner_kubeconfig(self, workdir: Path) -> Path:
        """The read-only kubeconfig the runner gives kubectl: the emulated cluster."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "demo", "cluster": {"server": self.kubernetes.url}}],
            "users": [{"name": "steadfast-reader", "user": {}}],
            "contexts": [
                {"name": "demo", "context": {"cluster": "demo", "user": "steadfast-reader"}}
            ],
            "current-context": "demo",
        }
        path = workdir / "runner-kubeconfig.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


def demo_policy(workdir: Path, *, page: bool = False) -> Path:
    """The shipped policy, plus what only the demo needs: its platform API lives on
    127.0.0.1, so the named API's host joins the allowlist (ad-hoc URLs to loopback stay refused
    by the gate whatever the allowlist says), acme's alerts have a route, and with `page` the
    default on-call route also pages the emulated PagerDuty."""
    policy = yaml.safe_load(SHIPPED_POLICY.read_text())
    policy["http"]["hosts"] = [*policy["http"]["hosts"], "127.0.0.1"]
    # `demo --from-alert`: the demo tenant's alerts open their thread in its channel
    policy["alert_routes"] = [{"matchers": ['namespace=~"acme-.*"'], "channel": TICKET_CHANNEL}]
    if page:
        for route in policy["escalation"]["routes"]:
            if not route.get("tenants"):
                route["pages"] = [{"service": "pagerduty", "key": PAGING_KEY_NAME}]
    path = workdir / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


# The process environment is one per process: eval cases build their settings from worker
# threads at once, and without this one thread's restore could keep another's variables.
_ENVIRON = threading.Lock()


def settings_for(env: dict[str, str]) -> Settings:
    """Settings for this process from the same variables the workers get. They are read the
    way every entry point reads them (from the environment), then the environment is put back:
    the harness must not change its own process's environment."""
    with _ENVIRON:
        saved = dict(os.environ)
        try:
            os.environ.update(env)
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)


ALERTS_TOKEN = "demo-alertmanager-token"


class InProcessBot:
    """The Slack bot inside the harness: Socket Mode front door plus the outbox sender, and
    with `STEADFAST_ALERTS_TOKEN` set, Alertmanager's endpoint on its own loopback port."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        policy: PolicyLoader,
        tracing: Tracing | None = None,
        console_links: ConsoleLinks | None = None,
    ) -> None:
        from bot.slack.app import build_bot  # Bolt loads only for the harnesses that use it
        from bot.slack.serve import SocketBot

        self.bot = build_bot(
            settings,
            store,
            policy,
            http=False,
            update_interval=0.3,
            tracing=tracing,
            console_links=console_links,
        )
        self.bot.start_dispatcher()
        self.front = SocketBot(self.bot, settings).start()
        self.alerts = _alert_server(settings, store, policy, self.bot.dispatcher.wake, tracing)

    @property
    def alert_url(self) -> str | None:
        if self.alerts is None:
            return None
        return f"http://127.0.0.1:{self.alerts.port}{ALERTS_PATH}"

    def stop(self) -> None:
        if self.alerts is not None:
            self.alerts.stop()
        self.front.stop()
        self.bot.stop()


def _alert_server(
    settings: Settings,
    store: Store,
    policy: PolicyLoader,
    wake: Callable[[], None],
    tracing: Tracing | None,
) -> HealthServer | None:
    from bot.alerts.wiring import alert_posts, separate_alert_server, settings_scrubber

    scrub = settings_scrubber(settings).scrub
    posts = alert_posts(settings, store, policy, scrub=scrub, on_outbox=wake, tracing=tracing)
    return separate_alert_server(settings, Metrics(), posts, host="127.0.0.1")


_OTEL_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "NO_PROXY", "no_proxy")


def child_env(settings_env: dict[str, str]) -> dict[str, str]:
    """A worker's environment: the interpreter's own essentials plus the demo's settings."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    # the workers export their spans where the harness's would go (the trace id is printed)
    keep.update({k: v for k, v in os.environ.items() if k in _OTEL_VARIABLES})
    keep["PYTHONUNBUFFERED"] = "1"
    keep["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return {**keep, **settings_env}
