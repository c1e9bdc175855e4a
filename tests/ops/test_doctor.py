"""`steadfast doctor` checks the database, Slack and the model API with the real clients
(SQLAlchemy/psycopg, slack_sdk, the anthropic SDK) against a real database and the emulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import build_app
from bot.ops.doctor import MANIFEST_SCOPES
from emulators.anthropic import AnthropicEmulator
from emulators.slack import MANIFEST_SCOPES as EMULATED_SCOPES
from emulators.slack import SlackEmulator

REPO = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-doctor"
API_KEY = "sk-doctor"
POLICY = """\
version: 1
tenants:
  acme: {channels: [C0ACME]}
escalation:
  routes: [{channel: C0ONCALL}]
"""


def slack_emulator(**conf: Any) -> SlackEmulator:
    channels = {"C0ACME": {"name": "acme-support"}, "C0ONCALL": {"name": "oncall"}}
    base = {"bot_token": BOT_TOKEN, "channels": channels}
    return SlackEmulator({"slack": {**base, **conf}})


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with slack_emulator() as emulator:
        yield emulator


@pytest.fixture
def model() -> Iterator[AnthropicEmulator]:
    scenario = {"anthropic": {"api_key": API_KEY, "models": ["claude-doctor-1"]}}
    with AnthropicEmulator(scenario) as emulator:
        yield emulator


@pytest.fixture
def env(
    tmp_path: Path, database_url: str, slack: SlackEmulator, model: AnthropicEmulator
) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = CliRunner().invoke(
        build_app(), ["db", "upgrade"], env={"STEADFAST_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.stderr
    return {
        "STEADFAST_DATABASE_URL": database_url,
        "STEADFAST_POLICY": str(policy),
        "STEADFAST_RUNNER_SANDBOX": "off",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": model.url,
        "STEADFAST_MODEL": "claude-doctor-1",
    }


def doctor(env: dict[str, str], code: int) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(build_app(), ["doctor", "--json"], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    for secret in (BOT_TOKEN, API_KEY):
        assert secret not in result.stdout
    report = json.loads(result.stdout)
    assert report["healthy"] is (code == 0)
    return {d["dependency"]: d for d in report["dependencies"]}


def test_the_manifest_scopes_are_what_doctor_and_the_emulator_expect() -> None:
    for name in ("manifest.yaml", "manifest.http.yaml"):
        manifest = yaml.safe_load((REPO / "slack" / name).read_text())
        assert set(manifest["oauth_config"]["scopes"]["bot"]) == MANIFEST_SCOPES, name
    assert set(EMULATED_SCOPES) == MANIFEST_SCOPES


@pytest.mark.db
def test_doctor_checks_database_slack_and_model(env: dict[str, str]) -> None:
    deps = doctor(env, 0)
    assert deps["database"]["status"] == "ok" and "(current)" in deps["database"]["detail"]
    assert deps["slack"]["status"] == "ok", deps["slack"]
    assert "every scope of the manifest is granted" in deps["slack"]["detail"]
    assert "U0BOT" in deps["slack"]["auth"]
    for channel, name in (("C0ACME", "#acme-support"), ("C0ONCALL", "#oncall")):
        row = deps[f"slack:{channel}"]
        assert row["status"] == "ok" and name in row["detail"], row
    assert deps["model"]["status"] == "ok" and "claude-doctor-1" in deps["model"]["detail"]


def test_an_unreachable_database_fails_doctor(tmp_path: Path) -> None:
    env = {
        "STEADFAST_DATABASE_URL": "postgres://nobody@127.0.0.1:9/none?connect_timeout=2",
        "STEADFAST_RUNNER_SANDBOX": "off",
    }
    deps = doctor(env, 1)
    assert deps["database"]["status"] == "unhealthy"
    assert "127.0.0.1" in deps["database"]["detail"] or "connect" in deps["database"]["detail"]


@pytest.mark.db
def test_a_schema_behind_says_db_upgrade(postgres_url: str) -> None:
    deps = doctor({"STEADFAST_DATABASE_URL": postgres_url, "STEADFAST_RUNNER_SANDBOX": "off"}, 1)
    assert deps["database"]["status"] == "unhealthy"
    assert "run `steadfast db upgrade`" in deps["database"]["detail"]


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    env = {"STEADFAST_DATABASE_URL": f"sqlite:///{db}", "STEADFAST_RUNNER_SANDBOX": "off"}
    deps = doctor(env, 0)
    assert deps["database"]["status"] == "degraded" and not db.exists()
    assert deps["slack"]["detail"].startswith("not configured (skipped)")
    assert deps["model"]["detail"].startswith("not configured (skipped)")


@pytest.mark.db
@pytest.mark.db
def test_the_socket_mode_app_token_is_checked(env: dict[str, str]) -> None:
    deps = doctor({**env, "SLACK_APP_TOKEN": "xapp-1-doctor"}, 0)
    assert deps["slack:socket-mode"]["status"] == "ok", deps["slack:socket-mode"]
    deps = doctor({**env, "SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, 1)
    row = deps["slack:socket-mode"]
    assert row["status"] == "unhealthy" and "apps.connections.open failed" in row["detail"]
    assert "xoxb-not-an-app-token" not in json.dumps(deps)


def test_bogus_tokens_fail_doctor_and_say_which(env: dict[str, str]) -> None:
    deps = doctor({**env, "SLACK_BOT_TOKEN": "xoxb-bogus", "ANTHROPIC_API_KEY": "sk-bogus"}, 1)
    assert deps["slack"]["status"] == "unhealthy"
    assert "auth.test failed (invalid_auth)" in deps["slack"]["detail"]
    assert not any(name.startswith("slack:") for name in deps)  # no channel checks on a bad token
    assert deps["model"]["status"] == "unhealthy"
    assert "API key was refused (401)" in deps["model"]["detail"]
    assert deps["database"]["status"] == "ok"


@pytest.mark.db
def test_an_unavailable_model_fails_doctor(env: dict[str, str]) -> None:
    deps = doctor({**env, "STEADFAST_MODEL": "claude-retired-0"}, 1)
    assert "model 'claude-retired-0' is not available" in deps["model"]["detail"]
    assert "STEADFAST_MODEL" in deps["model"]["detail"]


@pytest.mark.db
def test_missing_scopes_and_channels_the_bot_is_not_in(env: dict[str, str]) -> None:
    scopes = [*sorted(MANIFEST_SCOPES - {"reactions:write", "usergroups:read"}), "files:write"]
    channels = {"C0ACME": {"name": "acme-support", "bot_member": False}}
    with slack_emulator(scopes=scopes, channels=channels) as slack:
        deps = doctor({**env, "SLACK_API_URL": slack.api_url}, 1)
    assert deps["slack"]["status"] == "unhealthy"
    assert "lacks scopes reactions:write, usergroups:read" in deps["slack"]["detail"]
    # fix the scopes: the channels decide
    with slack_emulator(scopes=[*MANIFEST_SCOPES, "files:write"], channels=channels) as slack:
        deps = doctor({**env, "SLACK_API_URL": slack.api_url}, 1)
    assert deps["slack"]["status"] == "ok" and "files:write" in deps["slack"]["detail"]
    acme = deps["slack:C0ACME"]
    assert acme["status"] == "unhealthy" and "/invite @steadfast in #acme-support" in acme["detail"]
    oncall = deps["slack:C0ONCALL"]
    assert oncall["status"] == "unhealthy" and "channel_not_found" in oncall["detail"]


def test_an_unreachable_model_api_fails_doctor(tmp_path: Path) -> None:
    env = {
        "STEADFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "STEADFAST_RUNNER_SANDBOX": "off",
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }
    deps = doctor(env, 1)
    assert "cannot reach http://127.0.0.1:9" in deps["model"]["detail"]
