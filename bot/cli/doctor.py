"""`steadfast doctor [--json]`: each configured dependency's health, latency, auth state and,
when unhealthy, why. Exits 1 when any configured dependency is unhealthy."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from bot.cli.common import console, errors_to_exit, load_settings, print_json
from core.scrubber import Scrubber
from integrations.health import Health, check_all
from integrations.registry import Integrations
from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.loader import PolicyLoader


def local_checks(loader: PolicyLoader) -> list[Health]:
    """What this process itself relies on: a valid policy, and how commands are isolated."""
    policy = loader.current()
    rows = [
        Health(
            "policy",
            loader.loaded,
            None,
            "none",
            f"{loader.path}" if loader.loaded else f"every command denied: {loader.error}",
        )
    ]
    try:
        with Executor(policy.limits) as executor:
            sandbox = executor.describe()
        detail = sandbox["mode"] + (f" ({sandbox['reason']})" if sandbox["reason"] else "")
        rows.append(Health("sandbox", True, None, "none", detail))
    except SandboxError as exc:
        rows.append(Health("sandbox", False, None, "none", str(exc)))
    return rows


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
            integrations = Integrations.from_settings(
                settings, loader, Scrubber(), environ=dict(os.environ)
            )
            try:
                results = local_checks(loader) + run_doctor(integrations)
            finally:
                integrations.close()
        healthy = all(h.healthy for h in results)
        if json_:
            print_json({"healthy": healthy, "dependencies": [h.to_dict() for h in results]})
        else:
            table = Table("dependency", "status", "latency", "auth", "detail")
            for h in results:
                status = "[green]ok[/green]" if h.healthy else "[red]unhealthy[/red]"
                latency = "-" if h.latency_ms is None else f"{h.latency_ms:.0f} ms"
                table.add_row(h.dependency, status, latency, h.auth, h.detail)
            console().print(table)
        if not healthy:
            raise typer.Exit(1)
