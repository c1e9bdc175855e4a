"""`steadfast doctor [--json]`: each dependency's health, latency, auth state and, when
unhealthy, why: the policy, the runner, the database (reachable, schema current), Slack
(token, granted scopes, channel membership), the model API (key, model) and every
integration. Exits 1 when anything required is down (`bot.ops.doctor` says what is)."""

from __future__ import annotations

import os

import typer
from pydantic import SecretStr
from rich.table import Table

from bot.cli.common import console, errors_to_exit, load_settings, print_json
from bot.ops.doctor import database_check, model_check, slack_checks
from bot.ops.paging import paging_check
from bot.settings import Settings
from bot.wiring import build_integrations
from core.scrubber import Scrubber
from integrations.health import Health, check_all
from integrations.registry import Integrations
from policy.loader import PolicyLoader
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.gate import GateJudge
from sandbox.runner import SANDBOX_CHOICES, RunnerClient, mount_namespace


def runner_check(settings: Settings, loader: PolicyLoader) -> Health:
    """Where model-chosen commands run, and whether that keeps them from this process's
    files and environment. A runner that shares our filesystem view and runs commands
    without bwrap works, but is degraded: say so and why."""
    if settings.runner_socket is not None:
        try:
            report = RunnerClient(settings.runner_socket).describe()
        except SandboxError as exc:
            return Health("runner", False, None, "none", str(exc))
        theirs, ours = report.get("mount_namespace") or "", mount_namespace()
        where = (
            "separate container"
            if theirs and ours and theirs != ours
            else "same filesystem as this process"
        )
    else:
        where = "local subprocess, same filesystem as this process"
        try:
            with Executor(
                loader.current().limits,
                bin_dir=settings.runner_bin_dir,
                sandbox=SANDBOX_CHOICES[settings.runner_sandbox],
                kubeconfig=settings.runner_kubeconfig,
            ) as executor:
                report = executor.describe()
        except SandboxError as exc:
            return Health("runner", False, None, "none", str(exc))
    kubeconfig = report.get("kubeconfig") or "none (kubectl cannot reach a cluster)"
    if report["mode"] == "bwrap":
        detail = f"bwrap ({where}); kubeconfig {kubeconfig}"
        return Health("runner", True, None, "kubeconfig", detail)
    if where == "separate container":
        detail = f"plain in a separate container ({report['reason']}); kubeconfig {kubeconfig}"
        return Health("runner", True, None, "kubeconfig", detail)
    detail = (
        f"plain ({where}): commands run without bwrap and can read what this process's "
        f"user can read; {report['reason']}"
    )
    return Health("runner", True, None, "kubeconfig", detail, degraded=True)


def local_checks(loader: PolicyLoader, settings: Settings) -> list[Health]:
    """What this process itself relies on: a valid policy, and how commands are isolated."""
    loader.current()  # (re)load the file so `loaded` and `error` are current
    rows = [
        Health(
            "policy",
            loader.loaded,
            None,
            "none",
            f"{loader.path}" if loader.loaded else f"every command denied: {loader.error}",
        )
    ]
    rows.append(runner_check(settings, loader))
    return rows


def mapped_channels(loader: PolicyLoader) -> list[str]:
    """Every channel the policy names: tenants' intake channels and escalation routes."""
    policy = loader.current()
    found = {c for tenant in policy.tenants.values() for c in tenant.channels}
    found |= {r.channel for r in policy.escalation.routes if r.channel}
    return sorted(found)


def run_doctor(integrations: Integrations) -> list[Health]:
    results = check_all(integrations)
    if integrations.vault is None:
        results.insert(0, Health("vault", True, None, "none", "not configured (skipped)"))
    if integrations.kubernetes is None:
        results.insert(1, Health("kubernetes", True, None, "none", "not configured (skipped)"))
    return results


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def doctor(
        json_: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    ) -> None:
        """Check every configured dependency: reachable, authenticated, how fast."""
        settings = load_settings()
        with errors_to_exit():
            loader = PolicyLoader(settings.policy)
            scrubber = Scrubber()  # no secret in the settings reaches a detail line
            for name, value in settings:
                if isinstance(value, SecretStr):
                    scrubber.register(name, value.get_secret_value())
            integrations = build_integrations(
                settings, GateJudge(loader), scrubber, environ=dict(os.environ)
            )
            try:
                results = local_checks(loader, settings)
                results.append(database_check(settings, scrubber))
                results += slack_checks(settings, mapped_channels(loader), scrubber)
                results.append(model_check(settings, scrubber))
                results.append(paging_check(settings, loader.current()))
                results += run_doctor(integrations)
            finally:
                integrations.close()
        healthy = all(h.healthy for h in results)
        if json_:
            print_json({"healthy": healthy, "dependencies": [h.to_dict() for h in results]})
        else:
            table = Table("dependency", "status", "latency", "auth", "detail")
            for h in results:
                color = {"ok": "green", "degraded": "yellow", "unhealthy": "red"}[h.status]
                status = f"[{color}]{h.status}[/{color}]"
                latency = "-" if h.latency_ms is None else f"{h.latency_ms:.0f} ms"
                table.add_row(h.dependency, status, latency, h.auth, h.detail)
            console().print(table)
        if not healthy:
            raise typer.Exit(1)
