"""CLI commands: `steadfast policy check|explain|schema` and `steadfast sandbox doctor`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot.cli.common import console, fail, load_settings, print_json
from policy.document import Policy
from policy.errors import PolicyError
from policy.loader import SHIPPED_POLICY, load_policy
from sandbox.errors import SandboxError
from sandbox.gate import Decision, Gate

SCHEMA_FILE = SHIPPED_POLICY.parent / "schema.json"

policy_app = typer.Typer(help="Check and explain the sandbox policy.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The command sandbox.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
    app.add_typer(policy_app, name="policy")
    app.add_typer(sandbox_app, name="sandbox")


def _policy(path: Path | None) -> tuple[Policy, Path]:
    """The policy named on the command line, else STEADFAST_POLICY, else the shipped one."""
    if path is None:
        path = load_settings().policy or SHIPPED_POLICY
    try:
        return load_policy(path), path
    except PolicyError as exc:
        fail(str(exc), 2)


def schema_text() -> str:
    return json.dumps(Policy.model_json_schema(), indent=2, sort_keys=True) + "\n"


@policy_app.command()
def check(file: Annotated[Path, typer.Argument(help="policy YAML to validate")]) -> None:
    """Validate a policy file: exit 0 if valid, 1 with file:line:col and the problem if not."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        fail(str(exc), 1)
    programs = ", ".join(sorted(policy.commands.programs)) or "none (every command denied)"
    console().print(
        f"{file}: valid; programs: {programs}; tenants: {len(policy.tenants)}", soft_wrap=True
    )


def _record(command: str, decision: Decision) -> dict[str, Any]:
    return {"command": command, **decision.to_dict()}


def _show(command: str, decision: Decision) -> None:
    out = console()
    if decision.allowed:
        out.print(f"[green]ALLOWED[/green] {decision.rule}", soft_wrap=True)
        for argv in decision.argv:
            out.print(f"  argv: {json.dumps(argv)}", soft_wrap=True, markup=False)
    else:
        out.print(f"[red]DENIED[/red] {escape(command)}", soft_wrap=True)
        out.print(f"  rule:   {decision.rule}", soft_wrap=True, markup=False)
        out.print(f"  reason: {decision.reason}", soft_wrap=True, markup=False)
        if decision.hint:
            out.print(f"  hint:   {decision.hint}", soft_wrap=True, markup=False)


def _batch(gate: Gate, file: Path, tenant: str | None) -> bool:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", 2)
    all_allowed = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            command = item["command"]
            if not isinstance(command, str):
                raise TypeError("'command' must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            fail(f'{file}:{number}: expected {{"command": "..."}} on each line ({exc})', 2)
        decision = gate.check_command(command, item.get("tenant", tenant))
        all_allowed = all_allowed and decision.allowed
        print_json(_record(command, decision))
    return all_allowed


@policy_app.command()
def explain(
    command: Annotated[str | None, typer.Argument(help="the command line to judge")] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="policy YAML")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="judge for this tenant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    batch: Annotated[
        Path | None, typer.Option("--batch", help='JSON Lines file of {"command": "..."}')
    ] = None,
) -> None:
    """Show what the gate decides. Exit 0 allowed, 1 denied, 2 usage or policy error."""
    if (command is None) == (batch is None):
        fail("give either a COMMAND or --batch FILE", 2)
    gate = Gate(_policy(policy)[0])
    if batch is not None:
        raise typer.Exit(0 if _batch(gate, batch, tenant) else 1)
    assert command is not None
    decision = gate.check_command(command, tenant)
    if as_json:
        print_json(_record(command, decision))
    else:
        _show(command, decision)
    raise typer.Exit(0 if decision.allowed else 1)


@policy_app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", help="write here")] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="exit 1 if policies/schema.json is out of date")
    ] = False,
) -> None:
    """Print (or write) the policy's JSON Schema, for editor completion."""
    text = schema_text()
    if check_only:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            fail(
                f"{SCHEMA_FILE} is out of date; run `steadfast policy schema --output {SCHEMA_FILE}`"
            )
        return
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@sandbox_app.command()
def doctor(
    policy: Annotated[Path | None, typer.Option("--policy", help="policy YAML")] = None,
    bin_dir: Annotated[
        Path | None, typer.Option("--bin-dir", help="extra directory searched for programs first")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Say how commands are isolated here (bwrap or plain) and which programs are found."""
    from sandbox.executor import Executor

    loaded, path = _policy(policy)
    try:
        with Executor(loaded.limits, bin_dir=bin_dir) as executor:
            report = executor.describe()
            found = {name: executor.find(name) for name in sorted(loaded.commands.programs)}
    except SandboxError as exc:
        fail(str(exc), 1)
    report["policy"] = str(path)
    report["programs"] = {k: str(v) if v else None for k, v in found.items()}
    if as_json:
        print_json(report)
        return
    out = console()
    mode = report["mode"]
    detail = f" ({report['reason']})" if report["reason"] else ""
    out.print(f"sandbox: {mode}{detail}", soft_wrap=True, markup=False)
    out.print(f"policy:  {path}", soft_wrap=True, markup=False)
    for name, where in report["programs"].items():
        out.print(f"  {name:10} {where or 'NOT FOUND'}", soft_wrap=True, markup=False)
