"""`steadfast doctor` against the emulators."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from bot.cli import doctor


def app() -> typer.Typer:
    application = typer.Typer()
    doctor.register(application)

    @application.command()
    def _noop() -> None:  # a second command keeps typer in multi-command mode
        pass

    return application


def env_for(vault, kube, platform, loki, token_file, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nhttp: {hosts: ['127.0.0.1']}\n")
    return {
        "VAULT_ADDR": vault.url,
        "STEADFAST_VAULT_AUTH": "approle",
        "STEADFAST_VAULT_ROLE_ID": "steadfast-reader",
        "STEADFAST_VAULT_SECRET_ID": "steadfast-demo-secret-id",
        "STEADFAST_KUBE_API_SERVER": kube.url,
        "STEADFAST_KUBE_TOKEN_PATH": str(token_file),
        "STEADFAST_PLATFORM_APIS": json.dumps({"platform": platform.url}),
        "STEADFAST_PLATFORM_API_AUTH": json.dumps({"platform": "env:PLATFORM_TOKEN"}),
        "PLATFORM_TOKEN": "platform-demo-token",
        "STEADFAST_LOKI_URL": loki.url,
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_VAULT_TIMEOUT_SECONDS": "1",
        "STEADFAST_HTTP_TIMEOUT_SECONDS": "1",
    }


def test_doctor_json_reports_every_dependency(
    vault_emulator, kube_emulator, platform_emulator, loki_emulator, token_file, tmp_path
):
    env = env_for(
        vault_emulator, kube_emulator, platform_emulator, loki_emulator, token_file, tmp_path
    )
    result = CliRunner().invoke(app(), ["doctor", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    deps = {d["dependency"]: d for d in report["dependencies"]}
    assert set(deps) == {"policy", "sandbox", "vault", "kubernetes", "http:platform", "logs:loki"}
    assert deps["sandbox"]["detail"].split()[0] in ("bwrap", "plain")
    assert report["healthy"] and all(d["healthy"] for d in deps.values())
    assert "token TTL" in deps["vault"]["auth"]
    assert deps["http:platform"]["auth"] == "bearer token"
    assert "steadfast-demo-secret-id" not in result.stdout


def test_doctor_exits_1_and_says_why(
    vault_emulator, kube_emulator, platform_emulator, loki_emulator, token_file, tmp_path
):
    env = env_for(
        vault_emulator, kube_emulator, platform_emulator, loki_emulator, token_file, tmp_path
    )
    vault_emulator.faults.set("503")
    loki_emulator.faults.set("down")
    result = CliRunner().invoke(app(), ["doctor"], env=env)
    assert result.exit_code == 1
    assert "unhealthy" in result.stdout and "vault" in result.stdout


def test_doctor_says_when_no_policy_is_in_force(tmp_path):
    env = {"STEADFAST_POLICY": str(tmp_path / "missing.yaml")}
    result = CliRunner().invoke(app(), ["doctor", "--json"], env=env)
    assert result.exit_code == 1
    deps = {d["dependency"]: d for d in json.loads(result.stdout)["dependencies"]}
    assert not deps["policy"]["healthy"]
    assert "every command denied" in deps["policy"]["detail"]
