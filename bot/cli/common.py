"""What every command shares: settings from the environment, the store, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape

from bot.errors import ConfigError, SteadfastError
from bot.settings import Settings
from core.logfilter import configure_logging
from core.scrubber import Scrubber
from policy.loader import PolicyLoader

USAGE = 2  # exit code: the command line or the configuration is wrong; nothing was touched


def load_settings(**overrides: Any) -> Settings:
    """The one place the environment is read. A bad value is one line per variable naming
    it and what it should be, and exit 2 (before anything touches the database)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail("\n".join(_setting_problem(e) for e in exc.errors()), USAGE)
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        fail(f"{exc}; check that variable's format", USAGE)


def env_name(field: str) -> str:
    """The environment variable an operator sets for a `Settings` field."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"STEADFAST_{field.upper()}"


def _setting_problem(error: Any) -> str:
    loc = error.get("loc") or ("?",)
    field = str(loc[0])
    if field not in Settings.model_fields:  # reported under an alias (ANTHROPIC_API_KEY, ...)
        field = next(
            (
                name
                for name, info in Settings.model_fields.items()
                if isinstance(info.validation_alias, AliasChoices)
                and field in info.validation_alias.choices
            ),
            field,
        )
    info = Settings.model_fields.get(field)
    secret = info is not None and "SecretStr" in str(info.annotation)
    value = "" if secret or "input" not in error else f"={error['input']!r}"
    reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{env_name(field)}{value} is not valid: {reason}; fix it or unset it"


def fail(message: str, code: int = 1) -> NoReturn:
    Console(stderr=True, highlight=False).print(
        f"[red]error:[/red] {escape(message)}", soft_wrap=True
    )
    raise typer.Exit(code)


def usage_error(message: str) -> NoReturn:
    """The command line or the configuration is wrong: say what to change, exit 2."""
    fail(message, USAGE)


@contextmanager
def errors_to_exit(code: int = 1) -> Iterator[None]:
    """Turn our own errors into a one-line message and an exit code; let bugs traceback.
    A `ConfigError` (settings that cannot work) exits 2, like any other usage error."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), USAGE)
    except SteadfastError as exc:
        fail(str(exc), code)


def print_json(record: Any) -> None:
    sys.stdout.write(json.dumps(record, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def console() -> Console:
    return Console(highlight=False)


Register = Callable[[typer.Typer], None]


def process_scrubber(settings: Settings) -> Scrubber:
    """The process's one scrubber, knowing every credential in the settings, with logging
    set up to pass each record through it (third-party loggers held at WARNING)."""
    scrubber = Scrubber()
    for name, value in settings:
        if isinstance(value, SecretStr):
            scrubber.register(name, value.get_secret_value())
        elif isinstance(value, dict):  # named secrets, e.g. STEADFAST_PAGING_KEYS
            for key, item in value.items():
                if isinstance(item, SecretStr):
                    scrubber.register(f"{name}.{key}", item.get_secret_value())
    configure_logging(settings.log_level, scrubber.scrub, log_format=settings.log_format)
    return scrubber


def startup_policy(settings: Settings) -> PolicyLoader:
    """The policy a long-running process (worker, bot, run) starts with. A process that
    cannot load one at start refuses to run (exit 2) instead of running on and denying every
    command; a later bad edit keeps the last good policy in force (see `policy.loader`)."""
    loader = PolicyLoader(settings.policy)
    if not loader.loaded:
        usage_error(
            f"no usable policy: {loader.error}. Fix the file, or unset STEADFAST_POLICY to use "
            "the shipped policy"
        )
    return loader
