"""`steadfast doctor` against the emulators."""

from __future__ import annotations

import json

import pytest
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
        "STEADFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'not-yet.db'}",
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
    assert set(deps) == {
        "policy",
        "runner",
        "database",
        "slack",
        "model",
        "vault",
        "kubernetes",
        "http:platform",
        "logs:loki",
        "paging",
    }
    assert "no route pages" in deps["paging"]["detail"]
    assert deps["runner"]["detail"].split()[0] in ("bwrap", "plain")
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


def test_doctor_reports_a_plain_local_runner_as_degraded(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    env = {"STEADFAST_POLICY": str(policy), "STEADFAST_RUNNER_SANDBOX": "off"}
    result = CliRunner().invoke(app(), ["doctor", "--json"], env=env)
    assert result.exit_code == 0, result.output
    runner = {d["dependency"]: d for d in json.loads(result.stdout)["dependencies"]}["runner"]
    assert runner["status"] == "degraded" and runner["degraded"] is True
    assert runner["detail"].startswith("plain") and "disabled by configuration" in runner["detail"]
    table = CliRunner().invoke(app(), ["doctor"], env=env)
    assert "degraded" in table.stdout and "ok" in table.stdout


def test_doctor_asks_a_runner_on_its_socket(tmp_path):
    import os

    from policy.loader import SHIPPED_POLICY
    from sandbox.runner import LocalRunner

    runner = LocalRunner(
        {"STEADFAST_POLICY": str(SHIPPED_POLICY), "STEADFAST_RUNNER_SANDBOX": "off"},
        environ=os.environ,
    )
    try:
        env = {
            "STEADFAST_POLICY": str(SHIPPED_POLICY),
            "STEADFAST_RUNNER_SOCKET": str(runner.socket_path),
        }
        result = CliRunner().invoke(app(), ["doctor", "--json"], env=env)
        deps = {d["dependency"]: d for d in json.loads(result.stdout)["dependencies"]}
        # a subprocess on this host shares our files: plain means degraded
        assert deps["runner"]["status"] == "degraded", deps["runner"]
        assert "same filesystem" in deps["runner"]["detail"]
    finally:
        runner.close()


def test_doctor_sees_a_runner_in_its_own_mount_namespace_as_isolated(tmp_path):
    """As in the chart, where the runner is another container: its own file view."""
    import shutil
    import subprocess
    import sys

    from policy.loader import SHIPPED_POLICY

    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--mount", "true"], check=False).returncode:
        pytest.skip("cannot create a mount namespace here")
    sock = tmp_path / "runner.sock"
    env = {
        "PATH": "/usr/bin:/bin",
        "STEADFAST_POLICY": str(SHIPPED_POLICY),
        "STEADFAST_RUNNER_SOCKET": str(sock),
        "STEADFAST_RUNNER_SANDBOX": "off",
        "PYTHONPATH": ":".join(p for p in sys.path if p),
    }
    proc = subprocess.Popen(
        [unshare, "--mount", sys.executable, "-m", "bot.cli", "runner"],
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"runner listening")
        result = CliRunner().invoke(
            app(),
            ["doctor", "--json"],
            env={"STEADFAST_POLICY": str(SHIPPED_POLICY), "STEADFAST_RUNNER_SOCKET": str(sock)},
        )
        runner = {d["dependency"]: d for d in json.loads(result.stdout)["dependencies"]}["runner"]
        assert runner["status"] == "ok", runner
        assert "separate container" in runner["detail"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_doctor_says_when_the_runner_does_not_answer(tmp_path):
    env = {"STEADFAST_RUNNER_SOCKET": str(tmp_path / "nobody.sock")}
    result = CliRunner().invoke(app(), ["doctor", "--json"], env=env)
    assert result.exit_code == 1
    runner = {d["dependency"]: d for d in json.loads(result.stdout)["dependencies"]}["runner"]
    assert runner["status"] == "unhealthy" and "did not answer" in runner["detail"]
