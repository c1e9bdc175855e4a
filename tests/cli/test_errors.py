"""Usage and configuration mistakes: one or two lines that say what is wrong and how to fix
it, exit 2, and nothing touched (the SQLite file a command would create does not appear)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import build_app
from bot.store.engine import make_engine
from bot.store.migrate import HEAD_REVISION


def invoke(args: list[str], env: dict[str, str]) -> Any:
    result = CliRunner().invoke(build_app(), args, env=env)
    # a message and an exit code, never a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "steadfast.db"


@pytest.fixture
def env(db: Path) -> dict[str, str]:
    return {
        "STEADFAST_DATABASE_URL": f"sqlite:///{db}",
        # Slack nowhere: a command that called it would fail differently
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }


def message(result: Any) -> str:
    text: str = result.stderr.strip()
    return re.sub(r"[│╭╮╰╯─]", "", text)  # typer's box around its own usage errors


CASES: list[tuple[str, list[str], dict[str, str], str]] = [
    (
        "bot with a bot token and no app token",
        ["bot"],
        {"SLACK_BOT_TOKEN": "xoxb-1"},
        "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token",
    ),
    (
        "bot with a bot token where the app token goes",
        ["bot"],
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-1"},
        "SLACK_APP_TOKEN is not an app-level token (those start with xapp-)",
    ),
    ("bot without any token", ["bot"], {}, "SLACK_BOT_TOKEN is not set"),
    (
        "HTTP mode without a signing secret",
        ["bot", "--mode", "http"],
        {"SLACK_BOT_TOKEN": "xoxb-1"},
        "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it",
    ),
    (
        "platform APIs that are not JSON",
        ["jobs"],
        {"STEADFAST_PLATFORM_APIS": "notjson"},
        "STEADFAST_PLATFORM_APIS='notjson' is not valid: not JSON",
    ),
    (
        "platform API auth that is a JSON list",
        ["jobs"],
        {"STEADFAST_PLATFORM_API_AUTH": "[1]"},
        "STEADFAST_PLATFORM_API_AUTH='[1]' is not valid: must be a JSON object",
    ),
    (
        "a concurrency that is not a number",
        ["jobs"],
        {"STEADFAST_CONCURRENCY": "abc"},
        "STEADFAST_CONCURRENCY='abc' is not valid: Input should be a valid integer",
    ),
    (
        "a policy file that does not exist",
        ["worker", "--handler", "scripted", "--until-idle"],
        {"STEADFAST_POLICY": "/nonexistent.yaml"},
        "no usable policy: /nonexistent.yaml: policy file not found",
    ),
    (
        "an unknown log level",
        ["jobs"],
        {"STEADFAST_LOG_LEVEL": "verbose"},
        "STEADFAST_LOG_LEVEL='verbose' is not valid: unknown log level 'verbose'; use one of "
        "DEBUG, INFO",
    ),
    (
        "an unknown handler",
        ["worker", "--handler", "bogus"],
        {},
        "'bogus' is not one of 'agent', 'scripted'",
    ),
    (
        "an unknown handler from the environment",
        ["worker"],
        {"STEADFAST_HANDLER": "bogus"},
        "'bogus' is not one of 'agent', 'scripted'",
    ),
    (
        "an unknown Slack mode",
        ["bot", "--mode", "websocket"],
        {"SLACK_BOT_TOKEN": "xoxb-1"},
        "'websocket' is not one of 'socket', 'http'",
    ),
    (
        "run with an unknown handler",
        ["run", "--handler", "bogus"],
        {},
        "'bogus' is not one of 'agent', 'scripted'",
    ),
    (
        "a database that is not supported",
        ["jobs"],
        {"STEADFAST_DATABASE_URL": "mysql://nobody@127.0.0.1/x"},
        "unsupported database 'mysql' in STEADFAST_DATABASE_URL; use sqlite or postgresql",
    ),
]


@pytest.mark.parametrize(
    ("args", "extra", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_usage_error_says_what_to_fix_exits_2_and_touches_nothing(
    env: dict[str, str], db: Path, args: list[str], extra: dict[str, str], expected: str
) -> None:
    result = invoke(args, {**env, **extra})
    assert result.exit_code == 2, (result.stdout, result.stderr)
    text = " ".join(message(result).split())
    assert expected in text, text
    assert not db.exists(), "the command touched the database before refusing"


def test_settings_errors_are_one_line_per_variable(
    env: dict[str, str],
) -> None:
    result = invoke(
        ["jobs"],
        {**env, "STEADFAST_CONCURRENCY": "abc", "STEADFAST_MAX_ATTEMPTS": "0"},
    )
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2, lines
    assert lines[0].startswith("error: STEADFAST_MAX_ATTEMPTS='0' is not valid")
    assert lines[1].startswith("STEADFAST_CONCURRENCY='abc' is not valid")


def test_good_values_in_the_same_variables_work(env: dict[str, str]) -> None:
    result = invoke(
        ["jobs"],
        {
            **env,
            "STEADFAST_LOG_LEVEL": "debug",
            "STEADFAST_PLATFORM_APIS": json.dumps({"p": "http://127.0.0.1:9"}),
            "STEADFAST_CONCURRENCY": "3",
        },
    )
    assert result.exit_code == 0, result.stderr
    assert "no jobs" in result.stdout


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_every_postgresql_url_spelling_means_psycopg(scheme: str) -> None:
    engine = make_engine(f"{scheme}://u:p@127.0.0.1:5432/db")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()


@pytest.mark.db
def test_a_postgres_url_reaches_the_database(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql+psycopg://", "postgres://", 1)
    assert url.startswith("postgres://")
    result = invoke(["db", "upgrade"], {"STEADFAST_DATABASE_URL": url})
    assert result.exit_code == 0, result.stderr
    assert f"-> {HEAD_REVISION}" in result.stdout


def test_version_flag_and_command(env: dict[str, str]) -> None:
    from bot import __version__

    assert invoke(["--version"], env).stdout.strip() == f"steadfast {__version__}"
    assert invoke(["version"], env).stdout.strip() == __version__


def test_help_keeps_every_env_note() -> None:
    """Rich reads `[env X]` as markup and drops it unless escaped; every note in the source
    reaches the rendered help."""
    app = build_app()
    command = typer.main.get_command(app)
    commands: dict[str, Any] = getattr(command, "commands", {})
    seen = 0
    for name, sub in commands.items():
        notes = [
            re.sub(r"^\\", "", m)
            for param in sub.params
            for m in re.findall(r"\\?\[env [A-Z_]+\]", getattr(param, "help", None) or "")
        ]
        envvars = [p.envvar for p in sub.params if getattr(p, "envvar", None)]
        if not notes and not envvars:
            continue
        out = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250"}).stdout
        for note in notes:
            seen += 1
            assert note in out, (name, note)
        for envvar in envvars:
            seen += 1
            assert f"env var: {envvar}" in out, (name, envvar)
    assert seen >= 6


@pytest.mark.db
def test_answer_defaults_by_to_the_login_like_cancel(database_url: str) -> None:
    """`answer` records who replied without `--by`, as `cancel` does."""
    import getpass

    from bot.model import JobStatus
    from bot.store import Store

    env = {"STEADFAST_DATABASE_URL": database_url}
    assert invoke(["db", "upgrade"], env).exit_code == 0
    job = json.loads(invoke(["submit", "x", "--json"], env).stdout)["id"]
    store = Store(database_url, pool_size=1)
    try:
        claimed = store.claim("w", lease_ttl=30)
        assert claimed is not None
        _, lease = claimed
        store.append(lease, "human_question", {"question": "which cluster?"})
        store.finish(lease, JobStatus.WAITING_HUMAN)
        result = invoke(["answer", job, "prod-eu", "--json"], env)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["data"]["by"] == f"cli:{getpass.getuser()}"
        assert store.get(job).status == JobStatus.QUEUED
    finally:
        store.close()
